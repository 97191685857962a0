"""Overload: a load at several times the store's capacity against a small budget.

The receiver runs in its own process (this module, run with ``--serve``) with the real DuckDB store behind a
deliberately slowed ``RecordSink``, so its memory can be read from /proc. Four clients send requests mixing every
category as fast as the receiver answers. Afterwards: the receiver never crashed, its peak RSS stayed within its
budgets, every acknowledged item is in DuckDB, and no request lost a critical item while keeping a debug one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel_events.classify import Category
from otel_events.receiver.config import ReceiverConfig
from otel_events.receiver.server import Receiver
from otel_events.receiver.store_sink import StoreSink
from otel_events.receiver.wal import WalRecord
from tests.receiver.otlp_requests import make_span, trace_request

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")

KIB = 1024
MIB = 1024 * KIB
# Small budgets so a short run overloads the receiver many times over.
MAX_MESSAGE = 256 * KIB
WAL_BUDGET = 2 * MIB
INFLIGHT_BUDGET = 2 * MIB
STORE_MEMORY_MIB = 64
STORE_DELAY_SECONDS = 0.2  # per batch of at most BATCH bytes: a store capacity of roughly 0.6 MiB/s
BATCH = 128 * KIB

CLIENTS = 4
REFUSED_PAUSE_SECONDS = 0.01
REQUESTS_PER_CLIENT = 300
STAMPED_PER_CATEGORY = 350  # items the SDK already classified, per category and request
# Items sent without a category, classified by the receiver: name -> the category the default rules give it.
UNCLASSIFIED = {"debug": Category.DEBUG, "stats": Category.SYSTEM, "session_start": Category.USER_ACTIVITY}
PRIORITY = [Category.DEBUG, Category.SYSTEM, Category.USER_ACTIVITY, Category.PERFORMANCE, Category.CRITICAL]


# -- the receiver process ---------------------------------------------------------------------------------------


class SlowSink:
    """The real store, made slow: every batch waits first, as a store on a busy disk would."""

    def __init__(self, inner: StoreSink, delay: float) -> None:
        self._inner = inner
        self._delay = delay

    def store_records(self, records: Sequence[WalRecord]) -> int:
        time.sleep(self._delay)
        return self._inner.store_records(records)

    def wal_position(self) -> int | None:
        return self._inner.wal_position()

    def close(self) -> None:
        self._inner.close()


def serve(db_path: Path) -> None:
    """Run the slowed receiver: print the port, serve until stdin closes, print the status, drain."""
    config = ReceiverConfig(
        db_path=db_path,
        grpc_endpoint="127.0.0.1:0",
        http_endpoint="none",
        max_message_size=MAX_MESSAGE,
        wal_max_bytes=WAL_BUDGET,
        wal_segment_bytes=64 * KIB,
        inflight_max_bytes=INFLIGHT_BUDGET,
        batch_max_bytes=BATCH,
        store_memory_mib=STORE_MEMORY_MIB,
    )
    receiver = Receiver(
        config,
        sink_factory=lambda c: SlowSink(StoreSink(c.db_path, memory_mib=c.store_memory_mib), STORE_DELAY_SECONDS),
    )
    ports = receiver.start()
    print(json.dumps({"port": ports.grpc}), flush=True)
    sys.stdin.read()
    print(json.dumps(receiver.status()), flush=True)
    sys.exit(0 if receiver.shutdown(timeout=120) else 1)


# -- the load ---------------------------------------------------------------------------------------------------


def trace_id_of(client: int, number: int) -> bytes:
    return client.to_bytes(8, "big") + number.to_bytes(8, "big")


_PLACEHOLDER = b"\xee" * 16  # the trace id in the request template, replaced per request


def request_template() -> tuple[bytes, Counter[Category]]:
    """One request: stamped spans of every category plus unclassified ones, all under one trace id."""
    spans: list[Span] = []
    sent: Counter[Category] = Counter()
    for category in Category:
        for _ in range(STAMPED_PER_CATEGORY):
            span = make_span("work", trace_id=_PLACEHOLDER, otel_events__category=category.value, user__tier="gold")
            spans.append(span)
            sent[category] += 1
    for name, category in UNCLASSIFIED.items():
        spans.append(make_span(name, trace_id=_PLACEHOLDER))
        sent[category] += 1
    failed = make_span("checkout", trace_id=_PLACEHOLDER)
    failed.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR))  # status.error -> critical
    spans.append(failed)
    sent[Category.CRITICAL] += 1
    payload = trace_request(spans, service="load").SerializeToString()
    assert payload.count(_PLACEHOLDER) == len(spans)
    return payload, sent


@dataclass
class Outcome:
    """What the receiver answered to one request."""

    trace_id: str
    sent: Counter[Category]
    code: grpc.StatusCode
    rejected: int = 0
    message: str = ""


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    offered_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run_client(self, port: int, client: int) -> None:
        export = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(export)
            template, sent = request_template()
            for number in range(REQUESTS_PER_CLIENT):
                trace_id = trace_id_of(client, number)
                payload = template.replace(_PLACEHOLDER, trace_id)
                trace_id = trace_id.hex()
                try:
                    response = ExportTraceServiceResponse.FromString(call(payload, timeout=60))
                    outcome = Outcome(
                        trace_id,
                        sent,
                        grpc.StatusCode.OK,
                        response.partial_success.rejected_spans,
                        response.partial_success.error_message,
                    )
                except grpc.RpcError as exc:
                    outcome = Outcome(trace_id, sent, exc.code(), message=exc.details() or "")
                    # A short pause instead of the suggested delay: these clients stand for many exporters.
                    time.sleep(REFUSED_PAUSE_SECONDS)
                with self.lock:
                    self.outcomes.append(outcome)
                    self.offered_bytes += len(payload)


def rss_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field_name} missing for pid {pid}")


def test_overload_sheds_by_priority_stays_bounded_and_stores_every_acknowledged_item(tmp_path: Path) -> None:
    db_path = tmp_path / "load.duckdb"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.receiver.test_overload_load", "--serve", str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "serve.log").open("wb"),
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        port = json.loads(process.stdout.readline())["port"]
        baseline_kib = rss_kib(process.pid, "VmRSS")
        load = Load()
        clients = [threading.Thread(target=load.run_client, args=(port, n)) for n in range(CLIENTS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=300)
        assert process.poll() is None, "the receiver died under load"
        peak_kib = rss_kib(process.pid, "VmHWM")
        process.stdin.close()
        status = json.loads(process.stdout.readline())
        assert process.wait(timeout=180) == 0, (tmp_path / "serve.log").read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    outcomes = load.outcomes
    assert len(outcomes) == CLIENTS * REQUESTS_PER_CLIENT
    codes = Counter(outcome.code for outcome in outcomes)
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
    partial = [o for o in outcomes if o.code is grpc.StatusCode.OK and o.rejected]
    # The run did overload the receiver: whole refusals and priority shedding both happened, and it still served.
    assert codes[grpc.StatusCode.RESOURCE_EXHAUSTED] > 0 and partial and codes[grpc.StatusCode.OK] > len(partial)

    # Memory: the offered load is far beyond what the budgets allow to be held; the peak stays within them.
    growth_mib = (peak_kib - baseline_kib) / 1024
    bound_mib = STORE_MEMORY_MIB + 2 * INFLIGHT_BUDGET / MIB + 64  # DuckDB, requests in flight, interpreter slack
    assert load.offered_bytes > 1.5 * bound_mib * MIB  # the load alone could not have fitted
    assert growth_mib < bound_mib, (growth_mib, load.offered_bytes)

    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute("SELECT trace_id, category::VARCHAR, count(*) FROM spans GROUP BY ALL").fetchall()
    stored: dict[str, Counter[Category]] = {}
    for trace_id, category, count in rows:
        stored.setdefault(trace_id, Counter())[Category(category)] = count

    refused_by_category: Counter[Category] = Counter()
    sent_by_category: Counter[Category] = Counter()
    for outcome in outcomes:
        kept = stored.get(outcome.trace_id, Counter())
        sent_by_category.update(outcome.sent)
        if outcome.code is not grpc.StatusCode.OK:
            assert not kept, f"{outcome.trace_id} was refused but {sum(kept.values())} of its spans are stored"
            assert "retry in" in outcome.message
            refused_by_category.update(outcome.sent)
            continue
        # Every acknowledged item is stored; shedding removed whole categories, exactly as reported.
        assert sum(kept.values()) == sum(outcome.sent.values()) - outcome.rejected, outcome
        refused = {category for category in Category if kept[category] == 0}
        for category in Category:
            assert kept[category] in (0, outcome.sent[category]), (outcome, kept)
            if category in refused:
                refused_by_category[category] += outcome.sent[category]
        assert sum(outcome.sent[category] for category in refused) == outcome.rejected, outcome
        # Priority: the refused categories are the least important ones; critical is never among them.
        assert refused == set(PRIORITY[: len(refused)]) and Category.CRITICAL not in refused, outcome
        if refused:
            assert outcome.message.startswith("receiver under load") and "debug" in outcome.message

    # Overall: the less important a category, the larger the share of it refused.
    shares = [refused_by_category[category] / sent_by_category[category] for category in PRIORITY]
    assert shares == sorted(shares, reverse=True), shares
    assert shares[0] > shares[-1]
    # The status counts shed items per category exactly as the clients were told.
    partial_by_category: Counter[Category] = Counter()
    for outcome in partial:
        kept = stored.get(outcome.trace_id, Counter())
        partial_by_category.update({c: outcome.sent[c] for c in Category if kept[c] == 0})
    assert status["shed"] == {category.value: partial_by_category[category] for category in Category}
    print(
        f"\noffered {load.offered_bytes / MIB:.0f} MiB in {len(outcomes)} requests; {dict(codes)}; "
        f"{len(partial)} partial; refused shares {[f'{s:.0%}' for s in shares]}; RSS growth {growth_mib:.0f} MiB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=Path, required=True)
    serve(parser.parse_args().serve)
