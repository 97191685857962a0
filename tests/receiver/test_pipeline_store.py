"""The store sink: decoded batches appended together in one transaction, exactly as if appended one by one."""

from __future__ import annotations

from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from otel_events.receiver.store_sink import merge_decoded
from otel_events.store import IngestItem, Store, decode_batch
from tests.receiver.otlp_requests import attribute, make_span, trace_request

SPAN_QUERY = """
SELECT name, service_name, scope_name, attributes['merge.n'] AS n, tenant, stream_id, seq
FROM spans ORDER BY name, n, seq
"""


def request(service: str, name: str, count: int, *, stream: str | None = None, scope: str = "lib") -> bytes:
    spans = []
    for n in range(count):
        attrs = {"merge__n": n}
        if stream is not None:
            attrs |= {"otel_events__stream_id": stream, "otel_events__seq": n + 1}
        spans.append(make_span(name, **attrs))
    message = trace_request(spans, service=service)
    message.resource_spans[0].scope_spans[0].scope.name = scope
    return message.SerializeToString()


def stored(batches, *, together: bool) -> tuple[list[tuple], list[tuple], int]:
    with Store(":memory:") as store:
        if together:
            store.append_decoded(merge_decoded(batches), wal_position=len(batches))
        else:
            for position, batch in enumerate(batches, start=1):
                store.append_decoded(batch, wal_position=position)
        spans = store.connection.execute(SPAN_QUERY).fetchall()
        letters = store.connection.execute("SELECT signal, tenant, payload FROM dead_letters ORDER BY id").fetchall()
        return spans, letters, store.wal_position()


def test_merged_batches_store_the_same_rows_references_and_dead_letters() -> None:
    first = [
        IngestItem("traces", request("cart", "a", 3, scope="lib-a"), "t1"),
        IngestItem("traces", b"\x0a\x05junk", "t1"),
        IngestItem("traces", request("pay", "b", 2, stream="s-1"), None),
    ]
    second = [
        IngestItem("traces", request("pay", "c", 2, stream="s-1", scope="lib-c"), "t2"),  # seq 1, 2 repeat: dropped
        IngestItem("logs", b"\xff", "t2"),
        IngestItem("traces", request("web", "d", 4), None),
    ]
    batches = [decode_batch(first), decode_batch(second)]
    assert batches[1].errors.keys() == {1}

    separate = stored(batches, together=False)
    together = stored(batches, together=True)

    assert together[0] == separate[0]
    assert together[1] == separate[1] and len(together[1]) == 2
    assert together[2] == 2
    services = {(name, service, scope) for name, service, scope, *_ in together[0]}
    assert services == {("a", "cart", "lib-a"), ("b", "pay", "lib"), ("d", "web", "lib")}
    assert len(together[0]) == 3 + 2 + 4, "the repeated (stream_id, seq) pairs are stored once"


def test_merging_one_batch_returns_it_unchanged() -> None:
    batch = decode_batch([IngestItem("traces", request("svc", "x", 1))])
    assert merge_decoded([batch]) is batch


def test_resource_attributes_survive_the_shifted_references() -> None:
    message = trace_request([make_span("r")], service="second")
    message.resource_spans[0].resource.CopyFrom(Resource(attributes=[attribute("service.name", "second")]))
    batches = [
        decode_batch([IngestItem("traces", request("first", "q", 1))]),
        decode_batch([IngestItem("traces", message.SerializeToString())]),
    ]
    with Store(":memory:") as store:
        store.append_decoded(merge_decoded(batches))
        rows = store.connection.execute(
            "SELECT name, resource_attributes['service.name'] FROM spans ORDER BY name"
        ).fetchall()
    assert rows == [("q", "first"), ("r", "second")]
