"""The ingest pipeline with a staged sink: batches decode concurrently, appends stay in WAL order."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from otel_events.receiver.counters import ReceiverCounters
from otel_events.receiver.pipeline import IngestPipeline, StagedSink
from otel_events.receiver.signals import Signal
from otel_events.receiver.wal import WalRecord, WriteAheadLog


class ThreadedStagedSink:
    """Decodes in threads with random delays (so later batches often finish first); records every append."""

    def __init__(self, max_decoding: int, max_in_flight: int | None = None, *, seed: int = 7) -> None:
        self.max_decoding = max_decoding
        self.max_in_flight = max_in_flight or max_decoding + 1
        self.appended: list[list[int]] = []
        self.groups: list[int] = []
        self.decoded_sizes: list[int] = []
        self.positions: list[int] = []
        self.decode_failures = 0
        self.append_failures = 0
        self.decode_calls = 0
        self.max_in_flight_seen = 0
        self._in_flight = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._stored = threading.Condition(self._lock)
        self._executor = ThreadPoolExecutor(max_workers=max(1, max_decoding))

    def decode(self, records: Sequence[WalRecord]) -> Future[list[int]]:
        with self._lock:
            self.decode_calls += 1
            self.decoded_sizes.append(len(records))
            self._in_flight += 1
            self.max_in_flight_seen = max(self.max_in_flight_seen, self._in_flight)
            fail = self.decode_failures > 0
            self.decode_failures -= fail
            delay = self._random.uniform(0, 0.02)

        def work() -> list[int]:
            time.sleep(delay)
            if fail:
                raise RuntimeError("decoder died")
            return [record.lsn for record in records]

        return self._executor.submit(work)

    def append(self, decoded: Sequence[list[int]], records: Sequence[WalRecord]) -> int:
        with self._stored:
            if self.append_failures:
                self.append_failures -= 1
                raise OSError("disk full")
            assert [lsn for batch in decoded for lsn in batch] == [record.lsn for record in records]
            self.appended.append([lsn for batch in decoded for lsn in batch])
            self.groups.append(len(decoded))
            self.positions.append(records[-1].lsn)
            self._in_flight -= len(decoded)
            self._stored.notify_all()
            return len(records)

    def store_records(self, records: Sequence[WalRecord]) -> int:
        raise AssertionError("a staged sink is driven through decode and append")

    def wal_position(self) -> int | None:
        return self.positions[-1] if self.positions else None

    def close(self) -> None:
        self._executor.shutdown()

    def wait_for(self, lsn: int, timeout: float = 20.0) -> None:
        with self._stored:
            assert self._stored.wait_for(lambda: self.positions and self.positions[-1] >= lsn, timeout), self.positions


@pytest.fixture
def wal(tmp_path: Path) -> Iterator[WriteAheadLog]:
    log = WriteAheadLog(tmp_path / "wal", segment_bytes=64 * 1024)
    log.open(0)
    yield log
    log.close()


def append_concurrently(wal: WriteAheadLog, requests: int, size: int = 1000) -> None:
    """Append from several threads, as gRPC handlers do, so group commits hold several records."""

    def send(offset: int) -> None:
        for _ in range(offset, requests, 4):
            wal.append(Signal.TRACES, None, b"x" * size)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_the_sink_is_recognised_as_staged() -> None:
    assert isinstance(ThreadedStagedSink(2), StagedSink)


def test_batches_decoded_out_of_order_are_appended_in_wal_order_with_bounded_in_flight(wal: WriteAheadLog) -> None:
    sink = ThreadedStagedSink(max_decoding=3)
    counters = ReceiverCounters()
    pipeline = IngestPipeline(wal, sink, counters, batch_max_bytes=5_000)
    pipeline.start(0)
    append_concurrently(wal, 400)
    sink.wait_for(400)
    wal.close()
    assert pipeline.stop(10)
    sink.close()

    stored = [lsn for batch in sink.appended for lsn in batch]
    assert stored == list(range(1, 401)), "every record once, in WAL order"
    assert sink.positions == sorted(sink.positions) and sink.positions[-1] == 400
    assert len(sink.decoded_sizes) > 3, "several batches were in flight"
    assert max(sink.decoded_sizes) <= 5, "a batch stops once it holds batch_max_bytes"
    assert sink.max_in_flight_seen <= 3 + 1, "at most max_in_flight batches between reading and storing"
    assert counters.snapshot()["stored_items"] == 400
    assert pipeline.queue_depth == 0


def test_batches_decoded_while_the_store_is_busy_are_appended_together(wal: WriteAheadLog) -> None:
    sink = ThreadedStagedSink(max_decoding=2, max_in_flight=6)
    sink.append_failures = 1  # the first append waits out a retry delay while later batches decode
    pipeline = IngestPipeline(wal, sink, ReceiverCounters(), batch_max_bytes=2_500)
    pipeline.start(0)
    append_concurrently(wal, 60)
    sink.wait_for(60)
    wal.close()
    assert pipeline.stop(10)
    sink.close()
    assert [lsn for batch in sink.appended for lsn in batch] == list(range(1, 61))
    assert max(sink.groups) > 1, "consecutive decoded batches went to the sink in one call"
    assert sink.max_in_flight_seen <= 6


def test_a_failed_decode_is_started_again_and_stored_once(wal: WriteAheadLog) -> None:
    sink = ThreadedStagedSink(max_decoding=2)
    sink.decode_failures = 1
    counters = ReceiverCounters()
    pipeline = IngestPipeline(wal, sink, counters, batch_max_bytes=1 << 20)
    pipeline.start(0)
    for _ in range(5):
        wal.append(Signal.LOGS, None, b"payload")
    sink.wait_for(5)
    wal.close()
    assert pipeline.stop(10)
    sink.close()
    assert [lsn for batch in sink.appended for lsn in batch] == [1, 2, 3, 4, 5]
    assert counters.snapshot()["store_errors"] == 1
    assert sink.decode_calls == sum(sink.groups) + 1


def test_a_failed_append_is_retried_with_the_same_decoded_batch(wal: WriteAheadLog) -> None:
    sink = ThreadedStagedSink(max_decoding=2)
    sink.append_failures = 2
    counters = ReceiverCounters()
    pipeline = IngestPipeline(wal, sink, counters, batch_max_bytes=1 << 20)
    pipeline.start(0)
    wal.append(Signal.METRICS, "tenant", b"payload")
    sink.wait_for(1)
    wal.close()
    assert pipeline.stop(10)
    sink.close()
    assert sink.appended == [[1]]
    assert sink.decode_calls == 1, "the decoded batch is kept while the store is retried"
    assert counters.snapshot()["store_errors"] == 2


def test_replay_starts_after_the_stored_position(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path / "wal")
    log.open(0)
    for _ in range(10):
        log.append(Signal.TRACES, None, b"payload")
    log.close()

    log = WriteAheadLog(tmp_path / "wal")
    log.open(6)
    sink = ThreadedStagedSink(max_decoding=2)
    pipeline = IngestPipeline(log, sink, ReceiverCounters(), batch_max_bytes=1 << 20)
    pipeline.start(6)
    sink.wait_for(10)
    log.close()
    assert pipeline.stop(10)
    sink.close()
    assert [lsn for batch in sink.appended for lsn in batch] == [7, 8, 9, 10]
