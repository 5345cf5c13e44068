"""Prompt formats of the robot domain and the answer format (spec §2).

- ``"paper"``: Jolfaei et al.'s chat format C (§2.3): a system message with the robot API, one example
  (user, assistant) pair and the ``Instruction:`` user turn. The example is our own (not a RoboEval or
  Robo-Instruct one: those are evaluation-only by licence).
- ``"compact"``: the ``Instruction:`` user turn alone, for a tiny model whose context is short; the API is learned
  from the SFT data.
- Completion style (§2.1) for evaluation: ``prompt_prefix.txt + instruction + prompt_suffix.txt`` from the RoboEval
  data directory (`completion_prompt`).

Every answer is one fenced program: ```` ```python\\ndef task_program():\\n    ...\\n``` ```` (`assistant_answer`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

PromptStyle = Literal["paper", "compact"]

API_DOC = """You write robot programs in Python. A program is one function `def task_program():` that may only call
these eight functions (nothing needs importing; `time.sleep` is available):

def get_current_location() -> str:  # the room the robot is in now
def get_all_rooms() -> list[str]:  # the names of all rooms
def is_in_room(object: str) -> bool:  # whether an object or a person is in the robot's current room
def go_to(location: str) -> None:  # move to a named location, e.g. go_to("garage") or go_to("Maya's office")
def ask(person: str, question: str, options: list[str]) -> str:  # ask a person; returns the option they choose
def say(message: str) -> None:  # speak a message
def pick(obj: str) -> None:  # pick up an object (the robot holds at most one)
def place(obj: str) -> None:  # put down the object the robot holds
"""
"""The API shown to the model (our wording of the eight signatures of §1)."""

USER_TEMPLATE = "Create one python program using only the given functions for following instruction.\nInstruction: {}\n"
"""Format C's user turn (§2.3)."""
EXAMPLE_PREFIX = "** Example:\n"
COMPACT_TEMPLATE = "Instruction: {}"

EXAMPLE_INSTRUCTION = (
    "Go to the laundry room and check whether there is a towel. If there is one, bring it to the bathroom; "
    "otherwise come back and tell me that no towel was found."
)
EXAMPLE_PROGRAM = """def task_program():
    start_loc = get_current_location()
    go_to("laundry room")
    if is_in_room("towel"):
        pick("towel")
        go_to("bathroom")
        place("towel")
    else:
        go_to(start_loc)
        say("I could not find a towel in the laundry room")"""
"""Our own example pair for the paper format (written for this project)."""


def assistant_answer(program: str) -> str:
    """The assistant's answer for a program: the program in a ```` ```python ```` fence."""
    return f"```python\n{program.strip(chr(10))}\n```"


def chat_messages(instruction: str, style: PromptStyle = "paper") -> list[dict[str, str]]:
    """The chat prompt for an instruction.

    Args:
        instruction: The robot task in plain language.
        style: ``"paper"`` (system API + our example pair + format C user turn) or ``"compact"`` (only the
            ``Instruction: ...`` user turn).
    """
    if style == "compact":
        return [{"role": "user", "content": COMPACT_TEMPLATE.format(instruction)}]
    if style == "paper":
        return [
            {"role": "system", "content": API_DOC},
            {"role": "user", "content": EXAMPLE_PREFIX + USER_TEMPLATE.format(EXAMPLE_INSTRUCTION)},
            {"role": "assistant", "content": assistant_answer(EXAMPLE_PROGRAM)},
            {"role": "user", "content": USER_TEMPLATE.format(instruction)},
        ]
    raise ValueError(f"unknown prompt style {style!r}; use 'paper' or 'compact'")


def completion_prompt(instruction: str, data_dir: Path | str) -> str:
    """The completion-style prompt (§2.1): ``prefix + instruction + suffix`` read from ``data_dir/roboeval``.

    Evaluation only (the prefix's examples are RoboEval material). Raises `FileNotFoundError` naming the missing
    file when the data is absent.
    """
    folder = Path(data_dir) / "roboeval"
    parts = []
    for name in ("prompt_prefix.txt", "prompt_suffix.txt"):
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"RoboEval prompt file not found: {path} (set --data-dir to the shared data)")
        parts.append(path.read_text(encoding="utf-8"))
    prefix, suffix = parts
    return prefix + instruction + suffix
