"""One gap-free sequence per process, shared by spans and logs, restarted in a forked child."""

from __future__ import annotations

import json
import os
import threading

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from otel_events.sdk import EventLogProcessor, EventSpanProcessor
from otel_events.sdk.sequence import process_stream

THREADS = 8
PER_THREAD = 10_000  # spans and as many log records per thread


class CollectSpans(SpanProcessor):
    def __init__(self) -> None:
        self.seqs: list[tuple[str, int]] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.seqs.append((span.attributes["otel_events.stream_id"], span.attributes["otel_events.seq"]))


class CollectLogs(LogRecordProcessor):
    def __init__(self) -> None:
        self.seqs: list[tuple[str, int]] = []

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        attributes = log_record.log_record.attributes
        self.seqs.append((attributes["otel_events.stream_id"], attributes["otel_events.seq"]))

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def test_threads_share_one_gap_free_sequence_across_spans_and_logs() -> None:
    spans, logs = CollectSpans(), CollectLogs()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(EventSpanProcessor(spans))
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(EventLogProcessor(logs))
    tracer = tracer_provider.get_tracer("seq")
    logger = logger_provider.get_logger("seq")
    first = process_stream().next_seq() + 1
    barrier = threading.Barrier(THREADS)

    def work() -> None:
        barrier.wait()
        for i in range(PER_THREAD):
            tracer.start_span("work", attributes={"i": i}).end()
            logger.emit(event_name="work.done", body="ok")

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    total = THREADS * PER_THREAD * 2
    assert len(spans.seqs) + len(logs.seqs) == total
    stream_ids = {stream for stream, _ in spans.seqs + logs.seqs}
    assert stream_ids == {process_stream().stream_id}
    seqs = sorted(seq for _, seq in spans.seqs + logs.seqs)
    assert seqs == list(range(first, first + total))  # every number exactly once, no gaps


def test_stream_id_is_32_hex() -> None:
    stream_id = process_stream().stream_id
    assert len(stream_id) == 32
    int(stream_id, 16)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_starts_a_new_stream() -> None:
    spans = CollectSpans()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(EventSpanProcessor(spans))
    tracer = provider.get_tracer("fork")
    tracer.start_span("before-fork").end()
    parent_stream, parent_seq = spans.seqs[-1]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the first two stamps, then leave without running any cleanup
        try:
            os.close(read_fd)
            tracer.start_span("in-child").end()
            tracer.start_span("in-child").end()
            os.write(write_fd, json.dumps(spans.seqs[-2:]).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        child = json.loads(pipe.read().decode())
    os.waitpid(pid, 0)
    (child_stream, child_first), (child_stream_again, child_second) = child
    assert child_stream == child_stream_again != parent_stream
    assert (child_first, child_second) == (1, 2)
    tracer.start_span("after-fork").end()
    assert spans.seqs[-1] == (parent_stream, parent_seq + 1)  # the parent's stream is untouched
