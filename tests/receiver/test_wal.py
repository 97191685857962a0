"""The write-ahead log: framing, group commit, crash recovery, segment deletion."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from otel_events.errors import ReceiverError
from otel_events.receiver.signals import Signal
from otel_events.receiver.wal import WalRecord, WriteAheadLog
from otel_events.receiver.wal.format import list_segments


def open_log(directory: Path, stored_lsn: int | None = None, segment_bytes: int = 1 << 20) -> WriteAheadLog:
    log = WriteAheadLog(directory, segment_bytes=segment_bytes)
    log.open(stored_lsn)
    return log


def read_all(log: WriteAheadLog, after_lsn: int = 0) -> list[WalRecord]:
    reader = log.reader(after_lsn)
    try:
        return reader.read(log.durable_lsn, max_bytes=1 << 40)
    finally:
        reader.close()


def test_appended_records_read_back_in_order_across_segments(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_bytes=4096)
    payloads = [os.urandom(100 + i * 37) for i in range(60)]
    for i, payload in enumerate(payloads):
        log.append([Signal.TRACES, Signal.LOGS, Signal.METRICS][i % 3], "tenant-a" if i % 2 else None, payload)
    assert log.durable_lsn == 60
    assert len(list_segments(tmp_path)) > 3
    records = read_all(log)
    log.close()
    assert [r.lsn for r in records] == list(range(1, 61))
    assert [r.payload for r in records] == payloads
    assert records[0].signal is Signal.TRACES and records[0].tenant is None
    assert records[1].signal is Signal.LOGS and records[1].tenant == "tenant-a"


def test_reader_reads_in_batches_bounded_by_bytes_and_durable_lsn(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    for _ in range(10):
        log.append(Signal.TRACES, None, b"x" * 1000)
    reader = log.reader(0)
    assert [r.lsn for r in reader.read(up_to_lsn=4, max_bytes=1 << 20)] == [1, 2, 3, 4]
    assert [r.lsn for r in reader.read(up_to_lsn=10, max_bytes=2500)] == [5, 6, 7]
    assert [r.lsn for r in reader.read(up_to_lsn=10, max_bytes=1 << 20)] == [8, 9, 10]
    assert reader.read(up_to_lsn=10, max_bytes=1 << 20) == []
    log.append(Signal.LOGS, None, b"later")
    assert [r.payload for r in reader.read(up_to_lsn=log.durable_lsn, max_bytes=1 << 20)] == [b"later"]
    reader.close()
    log.close()


def test_concurrent_appends_share_fsyncs_and_all_become_durable(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_bytes=64 * 1024)
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            for i in range(50):
                log.append(Signal.TRACES, None, f"{n}:{i}".encode())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = read_all(log)
    log.close()
    assert [r.lsn for r in records] == list(range(1, 401))
    assert sorted(r.payload for r in records) == sorted(f"{n}:{i}".encode() for n in range(8) for i in range(50))
    # Per client, the order of its own appends is kept.
    for n in range(8):
        mine = [int(r.payload.split(b":")[1]) for r in records if r.payload.startswith(f"{n}:".encode())]
        assert mine == list(range(50))


@pytest.mark.parametrize("cut", [1, 10, 25, 200], ids=["1-byte", "in-header", "in-body", "half"])
def test_torn_tail_is_cut_off_on_reopen_and_appends_continue(tmp_path: Path, cut: int) -> None:
    log = open_log(tmp_path)
    for i in range(5):
        log.append(Signal.TRACES, None, bytes([i]) * 400)
    log.close()
    (_, segment), *_ = list_segments(tmp_path)
    # Simulate a crash in the middle of writing record 6: only its first `cut` bytes reached the disk.
    torn = WriteAheadLog(tmp_path / "scratch")
    torn.open(None)
    torn.append(Signal.TRACES, None, b"\x07" * 400)
    torn.close()
    record_six = list_segments(tmp_path / "scratch")[0][1].read_bytes()
    with segment.open("ab") as stream:
        stream.write(record_six[:cut])
    log = open_log(tmp_path)
    assert log.durable_lsn == 5
    log.append(Signal.LOGS, None, b"after the crash")
    records = read_all(log)
    log.close()
    assert [r.lsn for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[-1].payload == b"after the crash"


def test_zeroed_tail_is_ignored(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.append(Signal.TRACES, None, b"kept")
    log.close()
    (_, segment), *_ = list_segments(tmp_path)
    with segment.open("ab") as stream:
        stream.write(bytes(4096))
    log = open_log(tmp_path)
    assert [r.payload for r in read_all(log)] == [b"kept"]
    log.close()


def test_corrupt_body_is_not_replayed(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.append(Signal.TRACES, None, b"a" * 100)
    log.append(Signal.TRACES, None, b"b" * 100)
    log.close()
    (_, segment), *_ = list_segments(tmp_path)
    data = bytearray(segment.read_bytes())
    data[-5] ^= 0xFF  # flip bits in the last record's payload
    segment.write_bytes(bytes(data))
    log = open_log(tmp_path)
    assert [r.payload for r in read_all(log)] == [b"a" * 100]
    log.close()


def test_reopen_skips_stored_records_and_continues_numbering(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_bytes=4096)
    for i in range(30):
        log.append(Signal.TRACES, None, bytes([i]) * 300)
    log.close()
    log = open_log(tmp_path, stored_lsn=20, segment_bytes=4096)
    assert [r.lsn for r in read_all(log, after_lsn=20)] == list(range(21, 31))
    log.append(Signal.TRACES, None, b"next")
    assert log.durable_lsn == 31
    log.close()


def test_numbering_continues_after_the_store_when_every_segment_was_deleted(tmp_path: Path) -> None:
    log = open_log(tmp_path, stored_lsn=41)
    log.append(Signal.TRACES, None, b"x")
    assert log.durable_lsn == 42
    assert [r.lsn for r in read_all(log, after_lsn=41)] == [42]
    log.close()


def test_release_deletes_stored_segments_but_not_the_active_one(tmp_path: Path) -> None:
    log = open_log(tmp_path, segment_bytes=4096)
    for i in range(40):
        log.append(Signal.TRACES, None, bytes([i]) * 500)
    before = log.disk_bytes
    segments = list_segments(tmp_path)
    assert before == sum(path.stat().st_size for _, path in segments)
    assert log.release(0) == 0
    freed = log.release(20)
    remaining = list_segments(tmp_path)
    assert freed > 0 and log.disk_bytes == before - freed
    assert remaining[0][0] <= 21  # the segment holding record 21 is kept
    assert [r.lsn for r in read_all(log, after_lsn=20)] == list(range(21, 41))
    log.release(40)
    assert len(list_segments(tmp_path)) == 1  # the active segment stays
    log.close()


def test_second_log_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    with pytest.raises(ReceiverError, match="in use by another running receiver"):
        open_log(tmp_path)
    log.close()
    open_log(tmp_path).close()


def test_append_after_close_is_refused_and_close_is_idempotent(tmp_path: Path) -> None:
    never_opened = WriteAheadLog(tmp_path / "never")
    never_opened.close()
    log = open_log(tmp_path)
    log.close()
    log.close()
    with pytest.raises(ReceiverError, match="shutting down"):
        log.append(Signal.TRACES, None, b"late")


def test_failed_disk_write_is_reported_to_the_waiting_caller(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.append(Signal.TRACES, None, b"ok")
    os.close(log._fd)  # the disk goes away under the writer: every write now fails with EBADF
    with pytest.raises(ReceiverError, match="write-ahead log"):
        log.append(Signal.TRACES, None, b"lost")
    with pytest.raises(ReceiverError, match="unusable"):
        log.append(Signal.TRACES, None, b"refused")
    log._fd = -1
    log.close()
    reopened = open_log(tmp_path)
    assert [r.payload for r in read_all(reopened)] == [b"ok"]
    reopened.close()
