"""The decode pool: real worker processes, restarts after crashes, poison requests, no orphans after kill -9."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from otel_events.receiver.decode_pool import DecodePool, WorkerStartError
from otel_events.store import DecodedBatch, IngestItem, Store, decode_batch
from tests.receiver.otlp_requests import make_span, trace_request
from tests.receiver.serve_process import ServeProcess

CRASH_ONCE = "crash-once:"  # tenant prefix: the worker dies the first time it sees it (a marker file remembers)
CRASH_ALWAYS = "crash-always"  # tenant: the worker dies whenever it sees it


def crashing_decode(items: list[IngestItem], rules_file: str | None) -> DecodedBatch:
    """``decode_batch``, except that some tenants kill the worker process (as a native crash or the OOM killer)."""
    for item in items:
        tenant = item.tenant or ""
        if tenant == CRASH_ALWAYS:
            os._exit(70)
        if tenant.startswith(CRASH_ONCE):
            marker = Path(tenant.removeprefix(CRASH_ONCE))
            if not marker.exists():
                marker.write_text(str(os.getpid()))
                os._exit(71)
    return decode_batch(items, rules_file)


def spans_item(name: str, count: int = 3, tenant: str | None = None) -> IngestItem:
    spans = [make_span(name, pool__index=i) for i in range(count)]
    return IngestItem("traces", trace_request(spans).SerializeToString(), tenant)


def span_names(batch: DecodedBatch) -> list[str]:
    return batch.tables["span_data"]["name"].to_pylist()


def test_workers_decode_like_the_inline_decoder_and_return_the_given_items() -> None:
    items = [spans_item(f"op-{n}", count=n + 1) for n in range(6)] + [IngestItem("traces", b"\x0a\x05junk")]
    pool = DecodePool(2)
    try:
        futures = [pool.submit(items[:3]), pool.submit(items[3:])]
        batches = [future.result(timeout=120) for future in futures]
        assert len(pool.worker_pids()) == 2 and os.getpid() not in pool.worker_pids()
    finally:
        pool.close()
    inline = [decode_batch(items[:3]), decode_batch(items[3:])]
    for batch, expected in zip(batches, inline, strict=True):
        assert batch.tables["span_data"].equals(expected.tables["span_data"])
        assert batch.errors == expected.errors
    assert batches[0].items == items[:3] and batches[1].items == items[3:]
    assert batches[1].errors.keys() == {3}, "the request that is not protobuf is reported, the others decoded"
    assert pool.worker_pids() == []
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(items)


def test_in_process_pool_decodes_when_submitted() -> None:
    pool = DecodePool(0)
    future = pool.submit([spans_item("inline", count=2)])
    assert future.done() and span_names(future.result()) == ["inline", "inline"]
    assert pool.workers == 0 and pool.worker_pids() == []
    pool.close()


def test_a_crashed_worker_is_restarted_and_its_batch_retried(tmp_path: Path) -> None:
    marker = tmp_path / "crashed-once"
    pool = DecodePool(1, decode=crashing_decode)
    try:
        first = pool.submit([spans_item("warm-up")]).result(timeout=120)
        assert span_names(first) == ["warm-up"] * 3
        pid_before = pool.worker_pids()
        batch = pool.submit([spans_item("a"), spans_item("b", tenant=f"{CRASH_ONCE}{marker}")]).result(timeout=120)
        pid_after = pool.worker_pids()
    finally:
        pool.close()
    assert marker.read_text() == str(pid_before[0]), "the first worker died on the batch"
    assert pid_after and pid_after != pid_before, "a new worker took over"
    assert span_names(batch) == ["a"] * 3 + ["b"] * 3 and batch.errors == {}


def test_a_request_that_always_kills_its_worker_becomes_a_dead_letter_and_the_rest_is_stored() -> None:
    poison = spans_item("poison", tenant=CRASH_ALWAYS)
    items = [spans_item("before"), poison, spans_item("after")]
    pool = DecodePool(1, decode=crashing_decode)
    try:
        batch = pool.submit(items).result(timeout=300)
        survivors = pool.submit([spans_item("later")]).result(timeout=120)
    finally:
        pool.close()
    assert batch.errors.keys() == {1} and "decoder process died" in batch.errors[1]
    assert span_names(survivors) == ["later"] * 3, "the pool keeps working"

    with Store(":memory:") as store:
        stats = store.append_decoded(batch, wal_position=3)
        names = store.connection.execute("SELECT name FROM spans ORDER BY name").fetchall()
        letters = store.connection.execute("SELECT error, payload, tenant FROM dead_letters").fetchall()
        assert store.wal_position() == 3
    assert stats.spans == 6 and stats.dead_letters == 1
    assert names == [("after",)] * 3 + [("before",)] * 3
    assert len(letters) == 1 and "decoder process died" in letters[0][0]
    assert bytes(letters[0][1]) == poison.payload and letters[0][2] == CRASH_ALWAYS


def refuse_to_load() -> None:
    raise RuntimeError("this decoder cannot be loaded")


class UnloadableDecode:
    """A decode function whose unpickling fails in the worker, so the worker dies before it is ready."""

    def __call__(self, items: list[IngestItem], rules_file: str | None) -> DecodedBatch:
        raise AssertionError("never called")

    def __reduce__(self) -> tuple:
        return (refuse_to_load, ())


def test_a_worker_that_cannot_start_fails_the_batch_without_blaming_its_requests() -> None:
    pool = DecodePool(1, decode=UnloadableDecode())  # type: ignore[arg-type]
    try:
        future = pool.submit([spans_item("innocent")])
        with pytest.raises(WorkerStartError, match="did not start"):
            future.result(timeout=120)
    finally:
        pool.close()


def descendants(pid: int) -> set[int]:
    """Every process whose chain of parents leads to ``pid``."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def test_decoder_processes_do_not_outlive_a_killed_receiver(tmp_path: Path) -> None:
    config = tmp_path / "receiver.toml"
    config.write_text("[receiver]\ndecode_workers = 2\n")
    receiver = ServeProcess(tmp_path / "orphans.duckdb", "--config", str(config))
    deadline = time.monotonic() + 60
    while len(children := descendants(receiver.process.pid)) < 3:  # the fork server and two decoders
        assert time.monotonic() < deadline, f"decoder processes never started: {children}"
        time.sleep(0.1)
    receiver.process.send_signal(signal.SIGKILL)
    receiver.process.wait()
    deadline = time.monotonic() + 30
    while alive(children):
        assert time.monotonic() < deadline, f"processes left behind after kill -9: {alive(children)}"
        time.sleep(0.1)
