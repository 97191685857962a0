"""The otel-events entry point: dispatch, help and usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from otel_events.cli import main


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "usage: otel-events" in capsys.readouterr().err


def test_unknown_command_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "no-such-command" in capsys.readouterr().err


def test_console_script_runs_as_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otel_events.cli", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "otel-events" in result.stdout
