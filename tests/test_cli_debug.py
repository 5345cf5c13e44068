"""``LIT_CODERL_DEBUG`` through `cli.main`: off, a user error is one ``error:`` line and exit status 2; on, the
original exception propagates with its traceback."""

from __future__ import annotations

import pytest

from lit_coderl.cli import main

ARGS = ["fit", "--config", "no-such-config-anywhere.yaml"]


@pytest.mark.parametrize("value", [None, "", "0"])
def test_debug_off_prints_one_error_line(monkeypatch, capsys, value):
    if value is None:
        monkeypatch.delenv("LIT_CODERL_DEBUG", raising=False)
    else:
        monkeypatch.setenv("LIT_CODERL_DEBUG", value)
    with pytest.raises(SystemExit) as exit_info:
        main(ARGS)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no-such-config-anywhere.yaml" in err.splitlines()[0]
    assert "LIT_CODERL_DEBUG=1 shows the traceback" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["1", "yes"])
def test_debug_on_raises_the_original_error(monkeypatch, capsys, value):
    monkeypatch.setenv("LIT_CODERL_DEBUG", value)
    with pytest.raises(FileNotFoundError, match="no-such-config-anywhere.yaml"):
        main(ARGS)
    assert "error: " not in capsys.readouterr().err
