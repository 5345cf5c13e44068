"""Robot-domain task sources: our procedurally generated tasks, and Robo-Instruct from the hub.

Rows carry ``messages`` (the chat prompt, `lit_coderl.robot.prompts.chat_messages`), ``reference`` (the assistant's
answer: the program in a ```` ```python ```` fence) and ``robot`` (``instruction``, ``program``), which
`lit_coderl.rewards.simulator.SimulatorReward` does not need (it verifies the generated program itself) but
evaluation and SFT read. RoboEval prompts are never a source here (evaluation-only by licence).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal

from lit_coderl.data.base import TaskRow, TaskSource, require_fields
from lit_coderl.robot.generator import DEFAULT_DATA_DIR, generate_tasks
from lit_coderl.robot.prompts import PromptStyle, assistant_answer, chat_messages

HUB_HINT = "the Hugging Face `datasets` package is needed for hub sources: pip install lit_coderl[hub]"


class GeneratedRobotTasks(TaskSource):
    """Robot tasks from our procedural generator (`lit_coderl.robot.generator.generate_tasks`).

    Args:
        n: Number of tasks (distinct instructions).
        seed: Seed of the draw.
        style: Prompt format: ``compact`` (the ``Instruction:`` turn only) or ``paper`` (format C with our example).
        data_dir: Benchmark data folder whose RoboEval prompts are used to drop near-duplicates (decontamination);
            ``"auto"`` looks in ``LIT_CODERL_DATA_DIR`` and the user cache; ``null`` skips it.
    """

    def __init__(
        self,
        n: int = 5000,
        seed: int = 0,
        style: PromptStyle = "compact",
        data_dir: Path | str | None = DEFAULT_DATA_DIR,
    ) -> None:
        if style not in ("compact", "paper"):
            raise ValueError(f"style must be 'compact' or 'paper', got {style!r}")
        self.n, self.seed, self.style, self.data_dir = int(n), int(seed), style, data_dir

    def load(self) -> list[TaskRow]:
        return generate_tasks(self.n, self.seed, style=self.style, data_dir=self.data_dir)


def _load_hub(*args, **kwargs):
    try:
        import datasets
    except ImportError as exc:
        raise ImportError(HUB_HINT) from exc
    return datasets.load_dataset(*args, **kwargs)


def robo_instruct_row(record: dict, index: int, style: PromptStyle, where: str) -> TaskRow:
    """A task row from one Robo-Instruct record (fields ``prompt``: the instruction, ``program``)."""
    require_fields(record, ("prompt", "program"), where)
    instruction, program = str(record["prompt"]).strip(), str(record["program"]).strip("\n")
    return {
        "task_id": f"robo-instruct/{index}",
        "messages": chat_messages(instruction, style),
        "reference": assistant_answer(program),
        "robot": {"instruction": instruction, "program": program},
    }


class RoboInstruct(TaskSource):
    """Robo-Instruct (``zichao22/robo-instruct``, the paper's robotics training set) from the Hugging Face hub.

    Needs ``pip install lit_coderl[hub]`` and hub access. The paper splits it 80/20 into train and test; the split
    here is a seeded shuffle of the rows. Licence of the dataset: unknown (check before use).

    Args:
        split: ``train`` (the first ``1 - test_fraction`` of the shuffled rows), ``test`` (the rest) or ``all``.
        test_fraction: Share of rows held out as ``test`` (paper: 0.2).
        seed: Seed of the shuffle.
        style: Prompt format of ``messages`` (``paper`` is format C with our example, ``compact`` the bare turn).
        limit: Keep at most this many rows of the split.
        dataset: Hub dataset name.
        hub_split: Split of the hub dataset to read.
    """

    def __init__(
        self,
        split: Literal["train", "test", "all"] = "train",
        test_fraction: float = 0.2,
        seed: int = 0,
        style: PromptStyle = "paper",
        limit: int | None = None,
        dataset: str = "zichao22/robo-instruct",
        hub_split: str = "train",
    ) -> None:
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        if not 0.0 <= float(test_fraction) < 1.0:
            raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
        if style not in ("compact", "paper"):
            raise ValueError(f"style must be 'compact' or 'paper', got {style!r}")
        self.split, self.test_fraction, self.seed, self.style = split, float(test_fraction), int(seed), style
        self.limit, self.dataset, self.hub_split = limit, dataset, hub_split

    def records(self) -> list[dict]:
        """The hub records, in hub order."""
        return [dict(record) for record in _load_hub(self.dataset, split=self.hub_split)]

    def select(self, records: list[dict]) -> list[tuple[int, dict]]:
        """``(index, record)`` pairs of this split: a seeded shuffle cut at ``1 - test_fraction``."""
        order = list(range(len(records)))
        random.Random(self.seed).shuffle(order)
        cut = round(len(order) * (1.0 - self.test_fraction))
        chosen = {"train": order[:cut], "test": order[cut:], "all": order}[self.split]
        if self.limit is not None:
            chosen = chosen[: int(self.limit)]
        return [(i, records[i]) for i in chosen]

    def load(self) -> list[TaskRow]:
        where = f"hub:{self.dataset}"
        return [robo_instruct_row(record, i, self.style, where) for i, record in self.select(self.records())]
