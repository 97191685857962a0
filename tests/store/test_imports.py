"""The decode path does not load DuckDB: decoder processes only decode, and DuckDB costs each ~34 MiB."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import otel_events.store
from otel_events.receiver.decode_pool import DecodePool
from otel_events.store import IngestItem
from tests.store.sdk_payloads import trace_payload

_ROOT = Path(__file__).resolve().parents[2]


def _fresh_modules(statement: str) -> set[str]:
    """Top-level modules loaded by ``statement`` in a new interpreter."""
    code = f"import sys\n{statement}\nprint(' '.join(sorted({{name.split('.')[0] for name in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import otel_events.store.batch",
        "import otel_events.receiver.decode_pool",
        "from otel_events.store import decode_batch, validate_request",
        # decoding itself imports lazily (resource and scope rows)
        "from otel_events.store import IngestItem, decode_batch\nfrom tests.store.sdk_payloads import trace_payload\n"
        "decode_batch([IngestItem('traces', trace_payload())])",
    ],
)
def test_decode_imports_do_not_load_duckdb(statement: str) -> None:
    modules = _fresh_modules(statement)
    assert "otel_events" in modules  # the statement ran
    assert "duckdb" not in modules


def test_store_still_loads_duckdb_on_use() -> None:
    assert "duckdb" in _fresh_modules("from otel_events.store import Store")


def test_public_names_resolve_lazily() -> None:
    for name in otel_events.store.__all__:
        assert getattr(otel_events.store, name) is not None
    assert set(otel_events.store.__all__) <= set(dir(otel_events.store))
    with pytest.raises(AttributeError, match="has no attribute 'Stor'"):
        otel_events.store.Stor  # noqa: B018


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
def test_decoder_process_has_no_duckdb_mapped() -> None:
    pool = DecodePool(1)
    try:
        batch = pool.submit([IngestItem("traces", trace_payload())]).result(timeout=60)
        assert batch.tables["span_data"].num_rows == 3  # the worker decoded
        (pid,) = pool.worker_pids()
        maps = Path(f"/proc/{pid}/maps").read_text()
    finally:
        pool.close()
    assert "pyarrow" in maps  # the check can see shared libraries
    assert "duckdb" not in maps
