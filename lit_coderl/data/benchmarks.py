"""Benchmark data (MBPP, MBPP+, RoboEval) without a side folder: where it is looked for, and how it is fetched.

Resolution, for each benchmark, the first that holds its files:

1. an explicit folder: ``evaluate --data-dir DIR`` (or an evaluator's ``data_dir``);
2. the ``LIT_CODERL_DATA_DIR`` environment variable;
3. the user cache, ``$LIT_CODERL_CACHE`` or ``$XDG_CACHE_HOME/lit_coderl`` (default ``~/.cache/lit_coderl``),
   folder ``data/``;
4. the upstream source, fetched into that cache on first use (``python -m lit_coderl data fetch KIND`` does it ahead
   of time):

   - ``mbpp``: ``google-research-datasets/mbpp`` (config ``full``, all 974 tasks) from the dataset hub with
     `datasets` (``pip install lit_coderl[hub]``); licence CC BY 4.0 (Austin et al. 2021, Google Research);
   - ``mbppplus``: the MBPP+ **v0.2.0** release through evalplus's own release loader and cache
     (``pip install evalplus==0.3.1``; a file already at ``~/.cache/evalplus/MbppPlus-v0.2.0.jsonl`` is used as is);
   - ``roboeval``: the task modules, prompts and reference programs of ``ut-amrl/robo-instruct`` at a pinned commit,
     each file checked against its sha256, the tasks converted to ``tasks.json`` (`lit_coderl.data.roboeval_upstream`).

Folders use the layout ``<dir>/mbpp/mbpp.jsonl``, ``<dir>/mbppplus/...``, ``<dir>/roboeval/...`` (any folder in
that layout works as ``--data-dir`` or ``LIT_CODERL_DATA_DIR``).

RoboEval is evaluation-only by licence: it is never shipped in the package, and `refuse_evaluation_only` keeps it
out of training sources.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

ENV_DATA_DIR = "LIT_CODERL_DATA_DIR"
ENV_CACHE = "LIT_CODERL_CACHE"

#: kind -> alternative file sets (paths relative to a data folder); the first complete set wins
LAYOUT: dict[str, list[list[str]]] = {
    "mbpp": [["mbpp/mbpp.jsonl"]],
    "mbppplus": [
        ["mbppplus/MbppPlus-v0.2.0.jsonl"],  # the release (what `data fetch mbppplus` writes)
        ["mbppplus/MbppPlus-dev-767efcc.jsonl", "mbppplus/v0.2.0_task_ids.txt"],  # the pre-release dev snapshot
    ],
    "roboeval": [
        [f"roboeval/{name}" for name in ("tasks.json", "roboeval_data.csv", "prompt_prefix.txt", "prompt_suffix.txt")]
    ],
}
#: evaluator kinds that read another kind's data
ALIASES = {"robosim": "roboeval"}

MBPP_HUB_ID, MBPP_COUNT = "google-research-datasets/mbpp", 974
MBPP_FIELDS = ("task_id", "text", "code", "test_list", "test_setup_code", "challenge_test_list")
MBPPPLUS_VERSION, MBPPPLUS_COUNT = "v0.2.0", 378


def user_cache_dir() -> Path:
    """``$LIT_CODERL_CACHE``, else ``$XDG_CACHE_HOME/lit_coderl``, else ``~/.cache/lit_coderl``."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "lit_coderl"


def cache_data_dir() -> Path:
    return user_cache_dir() / "data"


def _kind(kind: str) -> str:
    kind = ALIASES.get(kind, kind)
    if kind not in LAYOUT:
        raise ValueError(f"unknown benchmark {kind!r}; choose one of {', '.join(LAYOUT)}")
    return kind


def has_data(kind: str, folder: Path | str | None) -> bool:
    """Whether ``folder`` holds one complete file set of ``kind``."""
    if folder is None:
        return False
    folder = Path(folder).expanduser()
    return any(all((folder / name).is_file() for name in files) for files in LAYOUT[_kind(kind)])


def missing_message(kind: str, looked_in: list[str], reason: str = "") -> str:
    kind = _kind(kind)
    files = " or ".join(" + ".join(files) for files in LAYOUT[kind])
    text = (
        f"{kind} data not found (looked in: {'; '.join(looked_in)}).{' ' + reason if reason else ''}\n"
        f"Fetch it once with `python -m lit_coderl data fetch {kind}` (needs network), or point `--data-dir DIR` "
        f"(or the {ENV_DATA_DIR} environment variable) at a folder holding {files}."
    )
    return text


def resolve_data_dir(kind: str, data_dir: Path | str | None = None, fetch: bool = True) -> Path:
    """The data folder to read ``kind`` from (see the module docstring for the order).

    Raises `FileNotFoundError` whose message names ``python -m lit_coderl data fetch KIND`` and the overrides.
    """
    kind = _kind(kind)
    if data_dir is not None:
        folder = Path(data_dir).expanduser()
        if has_data(kind, folder):
            return folder
        raise FileNotFoundError(missing_message(kind, [f"--data-dir {folder}"]))
    looked = []
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        if has_data(kind, env):
            return Path(env).expanduser()
        looked.append(f"{ENV_DATA_DIR}={env}")
    cache = cache_data_dir()
    if has_data(kind, cache):
        return cache
    looked.append(str(cache))
    if not fetch:
        raise FileNotFoundError(missing_message(kind, looked))
    try:
        return fetch_benchmark(kind)
    except (OSError, ImportError, ValueError) as err:
        raise FileNotFoundError(missing_message(kind, looked, f"Fetching it from upstream failed: {err}")) from err


# ---------------------------------------------------------------------------------------------------------------
# fetchers: each writes <cache>/data/<kind>/... atomically (a temporary folder renamed into place)
# ---------------------------------------------------------------------------------------------------------------
def _download(url: str, timeout_s: float = 60.0) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "lit_coderl"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - fixed https URLs
        return response.read()


def _checked(data: bytes, sha256: str, what: str) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ValueError(f"{what}: sha256 {digest} does not match the pinned {sha256}")
    return data


def _install(kind: str, files: dict[str, bytes], root: Path | None = None) -> Path:
    """Write ``files`` (relative paths under ``<kind>/``) into the cache, replacing an older copy in one rename."""
    root = root or cache_data_dir()
    target = root / kind
    staging = root / f".{kind}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    for name, data in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(data)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return root


def fetch_mbpp(root: Path | None = None) -> Path:
    """MBPP (all 974 tasks) from the dataset hub via `datasets`."""
    try:
        import datasets
    except ImportError as err:
        raise ImportError("fetching MBPP needs the `datasets` package: pip install 'lit_coderl[hub]'") from err
    hub = datasets.load_dataset(MBPP_HUB_ID, "full")
    records = sorted((dict(r) for split in hub.values() for r in split), key=lambda r: int(r["task_id"]))
    if len(records) != MBPP_COUNT:
        raise ValueError(f"{MBPP_HUB_ID}: expected {MBPP_COUNT} tasks, got {len(records)}")
    lines = [json.dumps({k: r.get(k) for k in MBPP_FIELDS}, ensure_ascii=False) for r in records]
    notice = (
        "MBPP (Austin et al. 2021), Google Research, licence CC BY 4.0; fetched from the Hugging Face hub "
        f"dataset {MBPP_HUB_ID} (config full) by `python -m lit_coderl data fetch mbpp`.\n"
    )
    return _install("mbpp", {"mbpp.jsonl": ("\n".join(lines) + "\n").encode(), "SOURCE.md": notice.encode()}, root)


def evalplus_release_path() -> Path:
    """Where evalplus's release loader caches MBPP+ v0.2.0 (``~/.cache/evalplus/MbppPlus-v0.2.0.jsonl``)."""
    try:
        from evalplus.data.utils import get_dataset_metadata

        return Path(get_dataset_metadata("MbppPlus", MBPPPLUS_VERSION, False)[1])
    except ImportError:
        return Path("~/.cache/evalplus").expanduser() / f"MbppPlus-{MBPPPLUS_VERSION}.jsonl"


def fetch_mbppplus(root: Path | None = None) -> Path:
    """MBPP+ v0.2.0 through evalplus's release loader (which downloads into, and reads from, its own cache)."""
    path = evalplus_release_path()
    if not path.is_file():
        try:
            from evalplus.data import get_mbpp_plus
        except ImportError as err:
            raise ImportError(
                f"fetching MBPP+ needs evalplus (pip install evalplus==0.3.1), or its release file at {path}"
            ) from err
        get_mbpp_plus(version=MBPPPLUS_VERSION)
    data = path.read_bytes()
    count = sum(1 for line in data.splitlines() if line.strip())
    if count != MBPPPLUS_COUNT:
        raise ValueError(f"{path}: MBPP+ {MBPPPLUS_VERSION} has {MBPPPLUS_COUNT} tasks, this file {count}")
    notice = (
        f"MBPP+ {MBPPPLUS_VERSION} (EvalPlus, Liu et al. 2023; Apache-2.0, MBPP itself CC BY 4.0), "
        f"the evalplus release file {path.name}.\n"
    )
    return _install("mbppplus", {f"MbppPlus-{MBPPPLUS_VERSION}.jsonl": data, "SOURCE.md": notice.encode()}, root)


def fetch_roboeval(root: Path | None = None, download: Callable[[str], bytes] = _download) -> Path:
    """RoboEval from ``ut-amrl/robo-instruct`` at the pinned commit, every file sha256-checked (evaluation only)."""
    from lit_coderl.data import roboeval_upstream as upstream

    files: dict[str, bytes] = {}
    for path, (name, sha256) in upstream.FILES.items():
        files[name] = _checked(download(upstream.RAW_URL.format(path=path)), sha256, path)
    modules = {}
    for task, sha256 in upstream.TASK_FILES.items():
        path = f"roboeval/benchmark/tasks/{task}.py"
        modules[task] = _checked(download(upstream.RAW_URL.format(path=path)), sha256, path).decode("utf-8")
    files["tasks.json"] = json.dumps(upstream.tasks_json(modules), indent=1, ensure_ascii=False).encode()
    files["LICENCE-NOTICE.md"] = (upstream.LICENCE + " Never use these files as training data.\n").encode()
    return _install("roboeval", files, root)


FETCHERS: dict[str, Callable[..., Path]] = {"mbpp": fetch_mbpp, "mbppplus": fetch_mbppplus, "roboeval": fetch_roboeval}


def fetch_benchmark(kind: str, root: Path | None = None) -> Path:
    """Fetch ``kind`` into ``root`` (default: the user cache's ``data/``) and return that folder."""
    kind = _kind(kind)
    folder = FETCHERS[kind](root)
    if not has_data(kind, folder):
        raise ValueError(f"fetching {kind} left an incomplete folder {folder}")
    return folder


# ---------------------------------------------------------------------------------------------------------------
# the training data path refuses evaluation-only data
# ---------------------------------------------------------------------------------------------------------------
def refuse_evaluation_only(path: Path | str, where: str = "training data") -> None:
    """Raise `ValueError` when ``path`` is RoboEval data: inside a ``roboeval`` folder (the layout of every data
    folder, the user cache included) or a file named ``roboeval*``."""
    resolved = Path(path).expanduser().resolve()
    folders = [p.lower() for p in resolved.parent.parts]
    if "roboeval" in folders or resolved.name.lower().startswith("roboeval"):
        raise ValueError(
            f"{where}: {path} is RoboEval data, licensed for evaluation only (BSD-3 with a Machine Learning "
            "Restriction: never training data). Use lit_coderl.data.robot.GeneratedRobotTasks for robot prompts."
        )


# ---------------------------------------------------------------------------------------------------------------
# python -m lit_coderl data ...
# ---------------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lit_coderl data",
        description="Benchmark data: fetch it into the user cache, or show where each benchmark is read from.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download a benchmark into the user cache (needs network)")
    fetch.add_argument("kind", choices=[*LAYOUT, "all"])
    fetch.add_argument("--dir", type=Path, default=None, help=f"target folder (default {cache_data_dir()})")
    commands.add_parser("where", help="where each benchmark is read from (nothing is fetched)")
    args = parser.parse_args(argv)
    if args.command == "where":
        for kind in LAYOUT:
            try:
                print(f"{kind:9} {resolve_data_dir(kind, fetch=False)}")
            except FileNotFoundError:
                print(f"{kind:9} (missing: python -m lit_coderl data fetch {kind})")
        return 0
    status = 0
    for kind in LAYOUT if args.kind == "all" else [args.kind]:
        try:
            folder = fetch_benchmark(kind, args.dir)
        except (OSError, ImportError, ValueError) as err:
            print(f"error: fetching {kind} failed: {err}", file=sys.stderr)
            hint = f"offline? put the files in a folder and pass `evaluate --data-dir DIR` or set {ENV_DATA_DIR}"
            print(f"  {hint}", file=sys.stderr)
            status = 2
            continue
        print(f"{kind}: {folder / kind}")
    return status
