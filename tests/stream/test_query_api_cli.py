"""``otel-events analyze`` and ``otel-events sql`` print the same through a receiver as on a local file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_events.cli import main
from otel_events.receiver.server import Receiver
from tests.analyze.dataset import SLOW_TRACE_IDS, WINDOW_END, WINDOW_START, build_store
from tests.stream.live_support import running_receiver, target_of

WINDOW = ["--since", WINDOW_START.isoformat(), "--until", WINDOW_END.isoformat()]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Receiver, Path]]:
    """The analyzer's planted dataset in a file held by a receiver, and a copy of it for local runs."""
    directory = tmp_path_factory.mktemp("cli")
    held, local = directory / "held.duckdb", directory / "local.duckdb"
    build_store(str(held)).close()
    shutil.copyfile(held, local)
    with running_receiver(held) as receiver:
        yield receiver, local


ANALYSES = [
    ["slow-traces", *WINDOW],
    ["critical-path", SLOW_TRACE_IDS["critical"]],
    ["errors", *WINDOW, "--format", "json"],
    ["stats", *WINDOW, "--by", "hour", "--format", "csv"],
    ["stats", *WINDOW, "--filter", "service = 'checkout'", "--format", "markdown"],
    ["patterns", *WINDOW, "--baseline", "4h"],
    ["patterns", *WINDOW, "--spans"],
    ["anomalies", *WINDOW, "--format", "json"],
    ["anomalies", *WINDOW, "--metrics"],
    ["trace", SLOW_TRACE_IDS["high"], "--format", "json"],
    ["correlation", "corr-42"],
    ["service-map", *WINDOW],
    ["completeness", *WINDOW, "--format", "json"],
    ["compare", *WINDOW, "--baseline", "4h", "--fail-on", "error_rate_delta>0.01"],
    ["report", *WINDOW, "--format", "json"],
    ["report", *WINDOW, "--format", "html"],
    ["trace", "0" * 32],
    ["stats", *WINDOW, "--filter", "service = "],
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("arguments", ANALYSES, ids=lambda a: " ".join(a[:1] + a[-2:]))
def test_analysis_through_target_prints_what_a_local_run_prints(
    stores: tuple[Receiver, Path], capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    receiver, local = stores
    name, rest = arguments[0], arguments[1:]

    remote = _run(["analyze", name, "--target", target_of(receiver), *rest], capsys)
    expected = _run(["analyze", name, "--db", str(local), *rest], capsys)

    assert remote == expected
    assert expected[1] or expected[2]


SQL = "SELECT service_name, count(*) AS n, max(start_time) AS latest, any_value(attributes) IS NOT NULL AS a FROM spans GROUP BY ALL ORDER BY 1"  # noqa: E501


@pytest.mark.parametrize("output", ["table", "json", "csv"])
def test_sql_through_target_prints_what_a_local_run_prints(
    stores: tuple[Receiver, Path], capsys: pytest.CaptureFixture[str], output: str
) -> None:
    receiver, local = stores

    remote = _run(["sql", SQL, "--target", target_of(receiver), "--format", output], capsys)
    expected = _run(["sql", SQL, "--db", str(local), "--format", output], capsys)

    assert remote == expected
    assert expected[0] == 0 and "checkout" in expected[1]


def _cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_events.cli", *arguments], capture_output=True, text=True, timeout=120, check=False
    )


def test_a_file_held_by_a_receiver_is_queried_through_it_by_default(stores: tuple[Receiver, Path]) -> None:
    receiver, local = stores
    held = str(receiver.config.db_path)

    for arguments in (["sql", SQL], ["analyze", "errors", *WINDOW], ["analyze", "trace", SLOW_TRACE_IDS["high"]]):
        through_receiver = _cli(*arguments, "--db", held)
        on_file = _cli(*arguments, "--db", str(local))
        assert (through_receiver.returncode, through_receiver.stdout, through_receiver.stderr) == (
            on_file.returncode,
            on_file.stdout,
            on_file.stderr,
        )
        assert through_receiver.returncode == 0 and through_receiver.stdout


def test_a_write_through_the_receiver_is_refused_with_a_clear_error(stores: tuple[Receiver, Path]) -> None:
    result = _cli("sql", "DELETE FROM span_data", "--db", str(stores[0].config.db_path))

    assert result.returncode == 2
    assert "only read-only SELECT statements are allowed; this is a DELETE statement" in result.stderr
