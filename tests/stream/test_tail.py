"""Tail: live items with a filter, bounded buffers with a loss marker, the subscriber limit, a stalled reader."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from otel_events._proto import events_pb2, events_pb2_grpc
from otel_events.errors import RemoteError
from otel_events.receiver.server import Receiver
from otel_events.stream.client import EventsClient
from otel_events.stream.tail import Subscription, TailQuery, _Chunk
from otel_events.stream.tail_commands import TailFormat, write_tail
from tests.stream.live_support import export_logs, export_spans, running_receiver, target_of, wait_stored


def _chunk(items: int) -> _Chunk:
    return _Chunk(items, f"chunk of {items}".encode())


def test_a_full_buffer_drops_the_oldest_chunks_and_reports_how_many() -> None:
    subscription = Subscription(TailQuery(), capacity=10)
    for size in (4, 4, 4, 4):
        subscription.offer(_chunk(size))

    messages = subscription.take(timeout=0)

    marker = events_pb2.TailResponse.FromString(messages[0])
    assert marker.dropped == 8 and not marker.items
    assert messages[1:] == [b"chunk of 4", b"chunk of 4"]
    assert subscription.take(timeout=0) == []  # the count is reported once


def test_a_closed_subscription_wakes_its_reader_and_takes_nothing() -> None:
    subscription = Subscription(TailQuery(), capacity=10)
    threading.Timer(0.05, subscription.close).start()

    assert subscription.take(timeout=30) == []
    subscription.offer(_chunk(1))
    assert subscription.take(timeout=0) == [] and subscription.closed


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    with running_receiver(tmp_path / "tail.duckdb", tail_max_subscribers=3, tail_buffer_items=1000) as running:
        yield running


def _collect(client: EventsClient, expected: int, filter: str = "", **kwargs: object) -> tuple[list, threading.Event]:
    """Read tail responses in a thread until ``expected`` items arrived; returns them and a 'subscribed' event."""
    responses: list[events_pb2.TailResponse] = []
    done = threading.Event()

    def read() -> None:
        count = 0
        for response in client.tail(filter, **kwargs):
            responses.append(response)
            count += len(response.items)
            if count >= expected:
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    return responses, done


def _wait_subscribers(receiver: Receiver, count: int) -> None:
    with EventsClient(target_of(receiver)) as client:
        for _ in range(500):
            if client.status().tail_subscribers == count:
                return
            threading.Event().wait(0.02)
    raise AssertionError(f"never reached {count} subscribers")


def test_tail_streams_new_items_matching_the_filter(receiver: Receiver) -> None:
    target = target_of(receiver)
    export_spans(target, ["before"])  # stored before subscribing: not tailed
    wait_stored(receiver, 1)
    with EventsClient(target) as everything, EventsClient(target) as checkout_only:
        all_items, all_done = _collect(everything, 4)
        checkout, checkout_done = _collect(checkout_only, 1, "service = 'checkout'")
        _wait_subscribers(receiver, 2)
        export_spans(target, ["GET /cart"], service="checkout")
        export_spans(target, ["GET /", "GET /about"], service="frontend")
        export_logs(target, ["timeout talking to payments"], service="payments")
        assert all_done.wait(30) and checkout_done.wait(30)

    names = sorted(item.name or item.body for response in all_items for item in response.items)
    assert names == ["GET /", "GET /about", "GET /cart", "timeout talking to payments"]
    assert [item.name for response in checkout for item in response.items] == ["GET /cart"]
    log = next(item for response in all_items for item in response.items if item.kind == "log")
    assert (log.service_name, log.time_unix_nano) == ("payments", 1_700_000_000_000_000_000)


def test_a_filter_on_a_log_only_field_tails_logs_only(receiver: Receiver) -> None:
    target = target_of(receiver)
    with EventsClient(target) as client:
        responses, done = _collect(client, 1, "body CONTAINS 'timeout'")
        _wait_subscribers(receiver, 1)
        export_spans(target, ["timeout"])
        export_logs(target, ["all good", "timeout talking to db"])
        assert done.wait(30)

    assert [(i.kind, i.body) for r in responses for i in r.items] == [("log", "timeout talking to db")]


def test_a_bad_filter_is_refused_with_its_position(receiver: Receiver) -> None:
    with EventsClient(target_of(receiver)) as client, pytest.raises(RemoteError, match="at position 10"):
        next(iter(client.tail("service = ")))


def test_the_subscriber_past_the_limit_is_refused_with_resource_exhausted(receiver: Receiver) -> None:
    target = target_of(receiver)
    clients = [EventsClient(target) for _ in range(3)]
    try:
        for client in clients:
            _collect(client, 10**9)
        _wait_subscribers(receiver, 3)
        with grpc.insecure_channel(target) as channel:
            stub = events_pb2_grpc.EventsServiceStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                next(iter(stub.Tail(events_pb2.TailRequest(), timeout=30)))
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "3 tail subscribers" in refused.value.details()
    finally:
        for client in clients:
            client.close()
    _wait_subscribers(receiver, 0)  # leaving clients free their places


def test_a_stalled_subscriber_never_blocks_ingest_and_learns_what_it_lost(receiver: Receiver) -> None:
    target = target_of(receiver)
    total = 40 * 500
    # No BDP probing: the transport's window stays small, so the stalled stream backs up into its buffer.
    with EventsClient(target, channel_options=(("grpc.http2.bdp_probe", 0),)) as stalled:
        stream = stalled.tail(buffer_size=500)  # subscribes, then never reads while data flows
        _wait_subscribers(receiver, 1)
        for request in range(40):
            export_spans(target, [f"op{request}-{i}" for i in range(500)])
        wait_stored(receiver, total)  # ingest completes while the subscriber reads nothing

        received = dropped = 0
        while received + dropped < total:
            response = next(stream)
            received += len(response.items)
            dropped += response.dropped

    assert dropped > 0, "the stalled subscriber should have lost items"
    assert received + dropped == total  # every item was either delivered or counted in a marker


def test_write_tail_prints_one_json_object_per_item_and_the_marker() -> None:
    item = events_pb2.TailItem(
        kind="log", time_unix_nano=1_700_000_000_123_456_789, trace_id="ab" * 16, service_name="shop",
        body="boom", category="critical", seq=7,
    )  # fmt: skip
    out = io.StringIO()

    write_tail(out, [events_pb2.TailResponse(dropped=3, items=[item])], TailFormat.JSON)

    marker, record = (json.loads(line) for line in out.getvalue().splitlines())
    assert marker == {"kind": "dropped", "count": 3}
    assert record == {
        "kind": "log", "time": "2023-11-14T22:13:20.123456789Z", "trace_id": "ab" * 16, "span_id": None,
        "service_name": "shop", "name": None, "body": "boom", "category": "critical", "seq": 7,
    }  # fmt: skip


def test_tail_command_follows_the_receiver_holding_the_db(receiver: Receiver) -> None:
    command = [
        sys.executable,
        "-m",
        "otel_events.cli",
        "tail",
        "--db",
        str(receiver.config.db_path),
        "--format",
        "json",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_subscribers(receiver, 1)
        export_spans(target_of(receiver), ["GET /cart"], service="checkout")
        line = process.stdout.readline()  # type: ignore[union-attr]
    finally:
        process.terminate()
        process.communicate(timeout=30)

    record = json.loads(line)
    assert (record["kind"], record["name"], record["service_name"]) == ("span", "GET /cart", "checkout")
    assert set(record) == {"kind", "time", "trace_id", "span_id", "service_name", "name", "category", "seq"}


def test_tail_command_without_a_receiver_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otel_events.cli", "tail", "--db", str(tmp_path / "none.duckdb")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 2
    assert "no running receiver holds" in result.stderr
