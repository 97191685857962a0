"""Decoder processes: batches of WAL records in, ``DecodedBatch`` out, so decoding does not hold the receiver's GIL.

PERF-NOTES: decoding OTLP in Python costs ~8 µs per span and is the receiver's bottleneck; in the receiver process it
competes with the gRPC handlers for the GIL. Each worker is a process started by a ``forkserver`` (preloaded with the
decoder, so a restart is a fork, not a fresh interpreter) and keeps its classifier and attribute memo warm between
batches (``otel_events.store.decode_batch``). One thread per worker in the receiver sends it a batch over a pipe and
waits for the result with the GIL released.

Failure handling:

- a worker that dies (killed, out of memory, a crash in native code) is restarted and its batch retried;
- a batch that kills its worker ``max_attempts`` times is decoded again record by record to find the records that
  kill it; those are reported in ``DecodedBatch.errors`` (so they become dead letters) and the rest is decoded;
- workers exit when the receiver dies, even by ``kill -9``: the forkserver exits when its parent's pipe closes, and a
  worker exits when its own pipe to the receiver reports end-of-file.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path

from otel_events.store.batch import DecodedBatch, IngestItem, decode_batch

_logger = logging.getLogger(__name__)

DecodeFunction = Callable[[list[IngestItem], "str | None"], DecodedBatch]
"""``decode_batch``'s signature; a module-level function (it is pickled into the worker processes)."""

# Seconds a worker gets to exit after its pipe is closed at shutdown before it is killed.
_EXIT_GRACE_SECONDS = 5.0
# Seconds a new worker gets to import the decoder and say it is ready.
_START_TIMEOUT_SECONDS = 120.0
_READY = b"ready"


class DecodeError(Exception):
    """Decoding a batch raised in the worker (a defect: bad records are reported per record, not raised)."""


class WorkerStartError(Exception):
    """A decoder process could not start (nothing to do with the records it was to decode)."""


def default_decode_workers() -> int:
    """One decoder process per core this process may run on."""
    return len(os.sched_getaffinity(0))


@dataclass
class _Task:
    items: list[IngestItem]
    future: Future[DecodedBatch] = field(default_factory=Future)


class DecodePool:
    """Decodes batches of export requests in worker processes (or in the calling thread with ``workers=0``).

    Results may complete in any order; the caller appends them in its own order (the ingest pipeline keeps WAL
    order). ``submit`` never blocks: the caller bounds the batches in flight.

    Args:
        workers: decoder processes; 0 decodes in the thread that calls ``submit``.
        rules_file: classification rules for items without ``otel_events.category``; packaged rules when None.
        decode: the decode function (``decode_batch``); tests pass one that crashes.
        max_attempts: times a batch may kill its worker before it is decoded record by record.
    """

    def __init__(
        self,
        workers: int,
        rules_file: Path | None = None,
        *,
        decode: DecodeFunction = decode_batch,
        max_attempts: int = 2,
    ) -> None:
        if workers < 0:
            raise ValueError(f"decode workers must be 0 or more, got {workers}")
        self._rules = None if rules_file is None else os.fspath(rules_file)
        self._decode = decode
        self._max_attempts = max(1, max_attempts)
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._slots: list[_WorkerSlot] = []
        if workers:
            context = multiprocessing.get_context("forkserver")
            # Workers fork from a server that already imported the decoder, not the receiver's __main__.
            context.set_forkserver_preload([__name__])
            self._slots = [_WorkerSlot(self, context, number) for number in range(workers)]
            for slot in self._slots:
                slot.start()
            # Ready before the receiver says it is: the first rows then show up as fast as later ones (within 1 s).
            for slot in self._slots:
                slot.started.wait(_START_TIMEOUT_SECONDS)

    @property
    def workers(self) -> int:
        """The number of decoder processes (0: in-process decoding)."""
        return len(self._slots)

    def worker_pids(self) -> list[int]:
        """Process ids of the live decoder processes."""
        return [pid for slot in self._slots if (pid := slot.pid) is not None]

    def submit(self, items: Sequence[IngestItem]) -> Future[DecodedBatch]:
        """Queue a batch for decoding; the future's result has ``items`` as given.

        Raises:
            RuntimeError: the pool is closed.
        """
        task = _Task(list(items))
        if self._closed:
            raise RuntimeError("the decode pool is closed")
        if not self._slots:
            self._run_inline(task)
        else:
            self._tasks.put(task)
        return task.future

    def close(self) -> None:
        """Stop the workers; batches not yet decoded fail with ``RuntimeError``. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in self._slots:
            self._tasks.put(None)
        for slot in self._slots:
            slot.join()
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            if task is not None and not task.future.done():
                task.future.set_exception(RuntimeError("the decode pool was closed"))

    def _run_inline(self, task: _Task) -> None:
        try:
            batch = self._decode(task.items, self._rules)
        except Exception as exc:
            task.future.set_exception(DecodeError(f"{type(exc).__name__}: {exc}"))
            return
        task.future.set_result(replace(batch, items=task.items))


class WorkerDied(Exception):
    """The decoder process died while decoding a batch."""

    def __init__(self, exit_code: int | None) -> None:
        super().__init__(f"the decoder process died (exit code {exit_code})")
        self.exit_code = exit_code


class _WorkerSlot:
    """One decoder process and the receiver-side thread that feeds it; restarts the process when it dies."""

    def __init__(self, pool: DecodePool, context: multiprocessing.context.BaseContext, number: int) -> None:
        self._pool = pool
        self._context = context
        self._number = number
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._thread = threading.Thread(target=self._run, name=f"otel-events-decode-{number}", daemon=True)
        self.started = threading.Event()  # set once the first start of the process succeeded or failed

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def _spawn(self) -> None:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main,
            args=(theirs, self._pool._decode, self._pool._rules),
            name=f"otel-events-decoder-{self._number}",
            daemon=True,
        )
        process.start()
        # Only the worker may hold its end: then its death is end-of-file here, and ours closing is end-of-file there.
        theirs.close()
        self._process, self._conn = process, ours
        # A worker that dies before it is ready failed to start: that is not the fault of any record.
        try:
            if not ours.poll(_START_TIMEOUT_SECONDS) or ours.recv_bytes() != _READY:
                raise EOFError
        except (EOFError, OSError):
            process.join(_EXIT_GRACE_SECONDS)
            code = process.exitcode
            self._stop_process()
            raise WorkerStartError(f"decoder process {self._number} did not start (exit code {code})") from None

    def _stop_process(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(_EXIT_GRACE_SECONDS)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process.close()
            self._process = None

    def _run(self) -> None:
        try:
            self._spawn()  # now rather than with the first batch; a failure is retried then
        except Exception as exc:
            _logger.error("%s; retrying with the next batch", exc)
        finally:
            self.started.set()
        try:
            while (task := self._pool._tasks.get()) is not None:
                try:
                    batch = self._decode_with_retries(task.items)
                except Exception as exc:
                    task.future.set_exception(exc)
                else:
                    task.future.set_result(replace(batch, items=task.items))
        finally:
            self._stop_process()

    def _decode_with_retries(self, items: list[IngestItem]) -> DecodedBatch:
        for attempt in range(1, self._pool._max_attempts + 1):
            try:
                return self._decode_once(items)
            except WorkerDied as died:
                _logger.error(
                    "decoder process died on a batch of %d requests (attempt %d of %d, exit code %s); restarting it",
                    len(items),
                    attempt,
                    self._pool._max_attempts,
                    died.exit_code,
                )
        # The batch kills its worker every time: find the records that do, decode the rest without them.
        poison: dict[int, str] = {}
        for index, item in enumerate(items):
            try:
                self._decode_once([item])
            except WorkerDied as died:
                poison[index] = f"cannot decode {item.signal} request: {died}"
        if len(poison) == len(items):
            return replace(self._decode_once([]), errors=poison)
        # An empty payload decodes to an empty request: no rows, and every row keeps its record index.
        spared = [IngestItem(item.signal, b"") if index in poison else item for index, item in enumerate(items)]
        batch = self._decode_once(spared)
        return replace(batch, errors={**batch.errors, **poison})

    def _decode_once(self, items: list[IngestItem]) -> DecodedBatch:
        """Send one batch to the worker and wait for it; raises ``WorkerDied`` after restarting a dead worker."""
        if self._conn is None:
            self._spawn()
        assert self._conn is not None and self._process is not None
        try:
            self._conn.send_bytes(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL))
            ok, result = pickle.loads(self._conn.recv_bytes())
        except (EOFError, OSError):
            self._process.join(_EXIT_GRACE_SECONDS)
            code = self._process.exitcode
            self._stop_process()  # the next batch starts a new one
            raise WorkerDied(code) from None
        if not ok:
            raise DecodeError(result)
        return result


def _worker_main(conn: Connection, decode: DecodeFunction, rules_file: str | None) -> None:
    """A decoder process: decode each batch received on ``conn`` until it reports end-of-file."""
    # Ctrl-C reaches the whole process group: the receiver shuts the pool down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        conn.send_bytes(_READY)
    except OSError:
        return
    while True:
        try:
            items = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the receiver closed the pool, or died
        try:
            # The receiver keeps the payloads: do not send them back.
            reply = (True, replace(decode(items, rules_file), items=[]))
        except Exception as exc:
            reply = (False, f"{type(exc).__name__}: {exc}")
        try:
            conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            return
