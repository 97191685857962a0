"""The trace lookup macros read only the ingest batches that hold the trace, and return what the views do."""

from __future__ import annotations

from otel_events.store import IngestItem, Store
from tests.store.sdk_payloads import log_payload, trace_payload


def _ingest_batches(store: Store, count: int) -> None:
    for _ in range(count):
        store.ingest([IngestItem("traces", trace_payload()), IngestItem("logs", log_payload())])


def test_trace_spans_returns_the_rows_of_the_spans_view() -> None:
    with Store(":memory:") as store:
        _ingest_batches(store, 4)
        con = store.connection
        trace_ids = [r[0] for r in con.execute("SELECT DISTINCT trace_id FROM spans ORDER BY 1").fetchall()]
        assert len(trace_ids) == 4
        for trace_id in trace_ids:
            expected = con.execute("SELECT * FROM spans WHERE trace_id = ? ORDER BY span_id", [trace_id]).fetchall()
            found = con.execute("SELECT * FROM trace_spans(?) ORDER BY span_id", [trace_id]).fetchall()
            assert found == expected and found
            # same columns, same order as the public view
            names = [d[0] for d in con.execute("SELECT * FROM trace_spans(?)", [trace_id]).description]
            assert names == [d[0] for d in con.execute("SELECT * FROM spans LIMIT 0").description]
            assert con.execute("SELECT count(*) FROM trace_spans(?)", [trace_id.upper()]).fetchone() == (len(found),)


def test_trace_logs_returns_the_rows_of_the_logs_view() -> None:
    with Store(":memory:") as store:
        _ingest_batches(store, 3)
        con = store.connection
        for (trace_id,) in con.execute("SELECT DISTINCT trace_id FROM logs WHERE trace_id IS NOT NULL").fetchall():
            expected = con.execute("SELECT * FROM logs WHERE trace_id = ? ORDER BY ALL", [trace_id]).fetchall()
            assert expected
            assert con.execute("SELECT * FROM trace_logs(?) ORDER BY ALL", [trace_id]).fetchall() == expected


def test_each_batch_records_its_traces_once() -> None:
    with Store(":memory:") as store:
        _ingest_batches(store, 3)
        con = store.connection
        assert con.execute("SELECT DISTINCT ingest_batch FROM span_data ORDER BY 1").fetchall() == [(0,), (1,), (2,)]
        recorded = con.execute("SELECT trace_key, ingest_batch FROM trace_batches ORDER BY ALL").fetchall()
        expected = con.execute(
            "SELECT trace_key(trace_id), ingest_batch FROM span_rows UNION "
            "SELECT trace_key(trace_id), ingest_batch FROM log_rows WHERE trace_id IS NOT NULL ORDER BY ALL"
        ).fetchall()
        # one row per (trace, batch), however many spans and logs of the trace the batch holds
        assert recorded == expected and len(expected) >= 3


def test_batch_numbers_continue_after_reopen(tmp_path) -> None:
    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        _ingest_batches(store, 2)
    with Store(path) as store:
        store.ingest([IngestItem("traces", trace_payload())])
        con = store.connection
        assert con.execute("SELECT max(ingest_batch) FROM span_data").fetchone() == (2,)
        assert con.execute("SELECT max(ingest_batch) FROM trace_batches").fetchone() == (2,)


def test_text_that_is_not_a_trace_id_finds_nothing() -> None:
    with Store(":memory:") as store:
        _ingest_batches(store, 1)
        con = store.connection
        for text in ("", "xyz", "not hex at all, not hex at all!!", None):
            assert con.execute("SELECT count(*) FROM trace_spans(?)", [text]).fetchone() == (0,)
            assert con.execute("SELECT count(*) FROM trace_logs(?)", [text]).fetchone() == (0,)


def test_trace_batches_is_rewritten_sorted_and_lookups_still_work(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr("otel_events.store.writer._SORT_TRACE_BATCHES_MIN", 1)
    with Store(tmp_path / "s.duckdb") as store:
        # each batch adds a row per trace it holds, at least a quarter of the sorted rows: rewritten every time
        _ingest_batches(store, 3)
        con = store.connection
        keys = [k for (k,) in con.execute("SELECT trace_key FROM trace_batches").fetchall()]
        assert keys == sorted(keys) and len(keys) >= 3
        assert con.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = 'trace_batches'"
        ).fetchall() == [("trace_key", "NO"), ("ingest_batch", "NO")]
        for (trace_id,) in con.execute("SELECT DISTINCT trace_id FROM spans").fetchall():
            expected = con.execute("SELECT * FROM spans WHERE trace_id = ? ORDER BY ALL", [trace_id]).fetchall()
            assert con.execute("SELECT * FROM trace_spans(?) ORDER BY ALL", [trace_id]).fetchall() == expected
