"""decode_batch in a worker process + Store.append_decoded stores what Store.ingest stores."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor

from otel_events.store import IngestItem, Store, decode_batch
from tests.store.sdk_payloads import log_payload, metric_payload, stamped_span_payload, trace_payload

_VIEWS_SQL = {
    "spans": "SELECT * EXCLUDE (received_at) FROM spans ORDER BY span_id",
    "logs": "SELECT * EXCLUDE (received_at) FROM logs ORDER BY ALL",
    "metric_points": "SELECT * FROM metric_points ORDER BY ALL",
}


def _items() -> list[IngestItem]:
    return [
        IngestItem("traces", trace_payload(), tenant="acme"),
        IngestItem("logs", log_payload()),
        IngestItem("metrics", metric_payload()),
        IngestItem("traces", b"\xff not protobuf"),
        IngestItem("traces", stamped_span_payload("stream-s", [1, 2, 3])),
    ]


def _contents(store: Store) -> dict[str, list]:
    con = store.connection
    return {view: con.execute(sql).fetchall() for view, sql in _VIEWS_SQL.items()}


def test_batch_decoded_in_a_worker_process_is_stored_like_ingest() -> None:
    items = _items()
    with ProcessPoolExecutor(max_workers=1) as pool:
        batch = pool.submit(decode_batch, items).result(timeout=60)
    with Store(":memory:") as split, Store(":memory:") as direct:
        split_stats = split.append_decoded(batch, wal_position=7)
        direct_stats = direct.ingest(items)
        assert split_stats == direct_stats
        assert (split_stats.spans, split_stats.dead_letters) == (6, 1)
        assert _contents(split) == _contents(direct)
        assert split.wal_position() == 7
        error = split.connection.execute("SELECT error FROM dead_letters").fetchone()[0]
        assert error.startswith("cannot decode traces request")


def test_a_decoded_batch_survives_pickling_and_is_deduplicated_when_appended() -> None:
    batch = pickle.loads(pickle.dumps(decode_batch([IngestItem("traces", stamped_span_payload("stream-p", [1, 2]))])))
    again = decode_batch([IngestItem("traces", stamped_span_payload("stream-p", [2, 3, 3]))])
    with Store(":memory:") as store:
        assert store.append_decoded(batch).spans == 2
        stats = store.append_decoded(again)
        # 2 is stored already, the second 3 repeats the first one in the same batch
        assert (stats.spans, stats.duplicates) == (1, 2)
        assert store.connection.execute("SELECT seq FROM spans ORDER BY seq").fetchall() == [(1,), (2,), (3,)]


def test_rows_that_cannot_be_stored_make_only_their_request_a_dead_letter() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(trace_payload())
    request.resource_spans[0].scope_spans[0].spans[0].start_time_unix_nano = 2**64 - 1  # past 2262
    items = [IngestItem("traces", trace_payload()), IngestItem("traces", request.SerializeToString())]
    with Store(":memory:") as store:
        stats = store.append_decoded(decode_batch(items))
        assert (stats.spans, stats.dead_letters) == (3, 1)
        error = store.connection.execute("SELECT error FROM dead_letters").fetchone()[0]
        assert error.startswith("cannot store traces request")


def test_a_worker_classifies_with_the_rules_file_it_is_given(tmp_path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[names]\n"GET /cart" = "user_activity"\n', encoding="utf-8")
    items = [IngestItem("traces", trace_payload())]
    with ProcessPoolExecutor(max_workers=1) as pool:
        with_rules = pool.submit(decode_batch, items, rules).result(timeout=60)
        default = pool.submit(decode_batch, items).result(timeout=60)
    with Store(":memory:") as store:
        store.append_decoded(with_rules)
        store.append_decoded(default)
        rows = store.connection.execute(
            "SELECT category::VARCHAR, rule FROM spans WHERE name = 'GET /cart' ORDER BY received_at, category"
        ).fetchall()
    assert sorted(rows) == [("system", "default"), ("user_activity", "name.exact")]
