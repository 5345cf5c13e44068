"""The shipped configs: the repository's top-level ``configs/`` folder, carried by the wheel, found by name wherever
the user stands.

A checkout (or an editable install) reads ``<repository>/configs``; a wheel carries the same files as package data
at ``lit_coderl/configs/files`` (``setup.py`` maps that package onto the top-level folder), so there is one copy.

``--config X`` takes ``X`` as a path when that file exists, else as the name of a shipped config: ``robo.yaml``,
``robo``, ``demo``, ``strategies/ddp`` (``configs/robo.yaml``, the form a checkout's old README used, works too).
``python -m lit_coderl configs`` lists them with the first sentence of each file's leading comment.
"""

from __future__ import annotations

import re
from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "files"  # an installed wheel
_CHECKOUT = Path(__file__).resolve().parents[2] / "configs"  # a checkout, or an editable install of one

#: the folder of the shipped YAML files
CONFIG_DIR = _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


def shipped_configs() -> dict[str, Path]:
    """Shipped configs by name (``demo``, ``strategies/ddp``), sorted, run configs before overlays."""
    files = sorted(CONFIG_DIR.rglob("*.yaml"), key=lambda p: (len(p.relative_to(CONFIG_DIR).parts), str(p)))
    return {p.relative_to(CONFIG_DIR).with_suffix("").as_posix(): p for p in files}


def resolve_config(value: str) -> str:
    """A path to an existing file is returned as given; otherwise the shipped config of that name, if any.

    Unknown names are returned unchanged, so the parser reports the missing file with its own message.
    """
    if Path(value).expanduser().exists():
        return value
    name = value.removeprefix("./").removeprefix("configs/").removeprefix("lit_coderl/configs/")
    name = name[: -len(".yaml")] if name.endswith(".yaml") else name.removesuffix(".yml")
    path = shipped_configs().get(name)
    return str(path) if path is not None else value


def _resolve_existing(value: str) -> str:
    resolved = resolve_config(value)
    if not Path(resolved).expanduser().exists():
        raise FileNotFoundError(
            f"--config {value}: no such file, and no shipped config of that name "
            f"(shipped: {', '.join(shipped_configs())}; `python -m lit_coderl configs` describes them)"
        )
    return resolved


def resolve_config_args(args: list[str]) -> list[str]:
    """``args`` with every ``--config X`` / ``--config=X`` / ``-c X`` value passed through `resolve_config`.

    Raises `FileNotFoundError` for a value that is neither a file nor a shipped config's name.
    """
    out, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg in ("--config", "-c") and i + 1 < len(args):
            out += [arg, _resolve_existing(args[i + 1])]
            i += 2
            continue
        if arg.startswith("--config="):
            arg = "--config=" + _resolve_existing(arg.split("=", 1)[1])
        out.append(arg)
        i += 1
    return out


def purpose(path: Path) -> str:
    """The first sentence (up to ``:`` or ``.``) of the file's leading comment."""
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.lstrip("# ").strip()
        if line.startswith("#") and text:
            return re.split(r"[:.](?:\s|$)", text, maxsplit=1)[0].strip()
        if line.strip() and not line.startswith("#"):
            break
    return ""


#: data sources (class name) -> what they need beyond the package
SOURCE_NEEDS = {
    "MBPP": "MBPP data",
    "OpenCodeInstruct": "the dataset hub",
    "RoboInstruct": "the dataset hub",
}


def needs(path: Path) -> list[str]:
    """What a config needs beyond the installed package: benchmark data (``data fetch`` or ``--data-dir``), the
    dataset hub, the model hub; empty for the offline configs."""
    import yaml

    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found: list[str] = []
    data = config.get("data") or {}
    for source in [*(data.get("sources") or []), *(data.get("val_sources") or [])]:
        name = str((source or {}).get("class_path", "")).rpartition(".")[2]
        need = SOURCE_NEEDS.get(name)
        if need and need not in found:
            found.append(need)
    model = str((((config.get("model") or {}).get("model") or {}).get("name_or_path")) or "tiny")
    if model not in ("tiny", "tiny-coder", "lit_coderl/tiny-coder") and not model.startswith((".", "/", "~")):
        found.append(f"the model hub ({model})")
    return found


def list_configs() -> str:
    """The text of ``python -m lit_coderl configs``."""
    configs = shipped_configs()
    width = max(len(name) for name in configs)
    lines = []
    for name, path in configs.items():
        required = needs(path)
        lines.append(f"  {name:<{width}}  {purpose(path)}" + (f" [needs {', '.join(required)}]" if required else ""))
    return (
        "Shipped configs (use by name: python -m lit_coderl fit --config NAME; overlays stack: --config robo "
        "--config strategies/ddp)\n" + "\n".join(lines) + "\n\nMBPP data: `python -m lit_coderl data fetch mbpp` "
        "once, or `fit --data-dir DIR` with a folder holding mbpp/mbpp.jsonl.\n" + f"files: {CONFIG_DIR}"
    )
