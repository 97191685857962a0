"""The receiver: OTLP/gRPC listener -> write-ahead log -> ingest pipeline -> store, with a clean lifecycle."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from otel_events.errors import ReceiverError
from otel_events.receiver.admission import AdmissionControl
from otel_events.receiver.config import ReceiverConfig
from otel_events.receiver.counters import ReceiverCounters
from otel_events.receiver.http import OtlpHttpServer
from otel_events.receiver.intake import ExportIntake, RequestValidator
from otel_events.receiver.item_categories import ItemClassifier
from otel_events.receiver.pipeline import IngestPipeline
from otel_events.receiver.security import TlsFiles, load_authenticator
from otel_events.receiver.servicers import build_handlers
from otel_events.receiver.signals import SERVICES
from otel_events.receiver.sink import RecordSink
from otel_events.receiver.status import StatusWriter
from otel_events.receiver.wal import WriteAheadLog
from otel_events.stream.background import BackgroundJobs, open_background_jobs
from otel_events.stream.query_service import LiveApi, open_live_api

_logger = logging.getLogger(__name__)

# Seconds in-flight RPCs get to finish once shutdown starts; each only waits for one fsync.
_GRPC_GRACE_SECONDS = 5.0

SinkFactory = Callable[[ReceiverConfig], RecordSink]


class _State(Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True)
class BoundPorts:
    """The ports the receiver listens on (the real ones when port 0 was configured).

    Attributes:
        grpc: the OTLP/gRPC port.
        http: the OTLP/HTTP port, ``None`` when HTTP is off.
    """

    grpc: int
    http: int | None = None


def _store_sink(config: ReceiverConfig) -> RecordSink:
    from otel_events.receiver.store_sink import StoreSink

    return StoreSink(
        config.db_path, config.rules_file, memory_mib=config.store_memory_mib, decode_workers=config.decode_workers
    )


def _rules_classifier(config: ReceiverConfig) -> ItemClassifier | None:
    # Shedding sorts unclassified items with the same rules the store classifies them with.
    if config.rules_file is None:
        return None
    from otel_events.classify import Classifier

    return Classifier.from_file(config.rules_file)


def _store_validator() -> RequestValidator:
    from otel_events.store import validate_request

    return validate_request


class Receiver:
    """An OTLP receiver storing into DuckDB.

    ``start()`` opens the store, recovers and replays the WAL, then listens; ``shutdown()`` stops accepting,
    drains the WAL into the store and checkpoints. Both are safe to call twice, and ``shutdown()`` before
    ``start()``.

    Args:
        config: validated configuration.
        sink_factory: builds the record sink (default: the DuckDB store at ``config.db_path``).
        validate: request validation (default: ``otel_events.store.validate_request``).
    """

    def __init__(
        self,
        config: ReceiverConfig,
        *,
        sink_factory: SinkFactory | None = None,
        validate: RequestValidator | None = None,
    ) -> None:
        self.config = config.validate()
        self.counters = ReceiverCounters()
        self._sink_factory = sink_factory or _store_sink
        self._validate = validate
        self._lock = threading.Lock()
        self._state = _State.NEW
        self._sink: RecordSink | None = None
        self._wal: WriteAheadLog | None = None
        self._pipeline: IngestPipeline | None = None
        self._admission: AdmissionControl | None = None
        self._status: StatusWriter | None = None
        self._server: grpc.Server | None = None
        self._http: OtlpHttpServer | None = None
        self._health: health.HealthServicer | None = None
        self._live_api: LiveApi | None = None
        self._ports: BoundPorts | None = None
        self._jobs: BackgroundJobs | None = None
        self._stopped = threading.Event()

    @property
    def sink(self) -> RecordSink:
        """The record sink (the store); only valid while running."""
        if self._sink is None:
            raise ReceiverError("the receiver is not running")
        return self._sink

    @property
    def ports(self) -> BoundPorts | None:
        """The bound ports once started."""
        return self._ports

    def start(self) -> BoundPorts:
        """Open everything and start listening; returns the bound ports (idempotent).

        Raises:
            ReceiverError: when the WAL, store or port cannot be opened; whatever was opened is closed again.
            StoreError: when the DuckDB file cannot be opened.
        """
        with self._lock:
            if self._state is _State.RUNNING:
                assert self._ports is not None
                return self._ports
            if self._state is _State.STOPPED:
                raise ReceiverError("a stopped receiver cannot be restarted; create a new one")
            try:
                self._ports = self._open()
            except BaseException:
                self._close_all(drain_timeout=self.config.shutdown_timeout)
                self._state = _State.STOPPED
                raise
            self._state = _State.RUNNING
            return self._ports

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop accepting, drain the WAL into the store, checkpoint. Safe to call twice and before start.

        Args:
            timeout: seconds allowed for the drain (default ``config.shutdown_timeout``).

        Returns:
            True when everything acknowledged is stored (otherwise the WAL keeps it for the next start).
        """
        with self._lock:
            if self._state is not _State.RUNNING:
                self._state = _State.STOPPED
                return True
            self._state = _State.STOPPED
            drained = self._close_all(drain_timeout=timeout or self.config.shutdown_timeout)
        self._stopped.set()
        return drained

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``shutdown()`` finished; returns whether it did within ``timeout``."""
        return self._stopped.wait(timeout)

    def status(self) -> dict[str, object]:
        """Counters plus WAL and queue figures, as written to the status file."""
        wal, pipeline = self._wal, self._pipeline
        status = self.counters.snapshot()
        status.update(
            pid=os.getpid(),
            written_at=time.time(),
            db_path=str(self.config.db_path.resolve()),
            wal_dir=str(self.config.resolved_wal_dir.resolve()),
            grpc_endpoint=f"{self.config.grpc_host}:{self._ports.grpc}" if self._ports else None,
            http_endpoint=f"{self.config.http_host}:{self._ports.http}" if self._ports and self._ports.http else None,
            wal_bytes=wal.disk_bytes if wal else 0,
            wal_durable_lsn=wal.durable_lsn if wal else 0,
            stored_lsn=pipeline.stored_lsn if pipeline else 0,
            queue_depth=pipeline.queue_depth if pipeline else 0,
        )
        if self._jobs is not None:
            status.update(self._jobs.status())
        if self._admission is not None:
            status.update(self._admission.snapshot())
        return status

    # -- internals --------------------------------------------------------------------------------------------

    def _open(self) -> BoundPorts:
        config = self.config
        validate = self._validate or _store_validator()
        # Security settings are checked first: a bad tokens or certificate file opens nothing.
        authenticator = load_authenticator(config.tokens_file)
        tls = TlsFiles(config.tls_cert, config.tls_key, config.tls_client_ca) if config.tls_cert else None
        http_tls = tls.server_context() if tls else None
        self._sink = self._sink_factory(config)
        stored_lsn = self._sink.wal_position() or 0
        self._wal = WriteAheadLog(config.resolved_wal_dir, segment_bytes=config.wal_segment_bytes)
        self._wal.open(stored_lsn)
        self._pipeline = IngestPipeline(self._wal, self._sink, self.counters, batch_max_bytes=config.batch_max_bytes)
        self._pipeline.start(stored_lsn)
        # Retention and handlers read and delete through cursors of the store, off the ingest path (SPEC §7).
        self._jobs = open_background_jobs(self._sink, config.retention, config.handlers)
        self._admission = AdmissionControl(
            wal_bytes=lambda: self._wal.disk_bytes if self._wal else 0,
            wal_max_bytes=config.wal_max_bytes,
            inflight_max_bytes=config.inflight_max_bytes,
            classifier=_rules_classifier(config),
        )
        intake = ExportIntake(
            self._wal, validate, self.counters, admission=self._admission, authenticator=authenticator
        )
        # The query/tail API (proto/) on the same port; its streams get threads of their own.
        self._live_api = open_live_api(self._sink, self.status, authenticator, config)
        live_threads, live_handlers = (
            (self._live_api.threads, [self._live_api.service.handler()]) if self._live_api else (0, [])
        )
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=config.grpc_workers + live_threads, thread_name_prefix="otel-events-grpc"),
            handlers=[*build_handlers(intake), *live_handlers],
            options=[
                ("grpc.max_receive_message_length", config.max_message_size),
                # Refuse a port another process listens on instead of silently sharing it.
                ("grpc.so_reuseport", 0),
            ],
        )
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        grpc_port = self._bind(self._server, tls)
        if config.http_enabled:
            self._http = OtlpHttpServer(
                config.http_host,
                config.http_port,
                intake,
                self.counters,
                max_body_bytes=config.max_message_size,
                tls=http_tls,
            )
        self._ports = BoundPorts(grpc=grpc_port, http=self._http.port if self._http else None)
        self._server.start()
        if self._http is not None:
            self._http.start()
        for name in ("", *(service.service_name for service in SERVICES)):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._status = StatusWriter(config.resolved_wal_dir, self.status, config.status_interval)
        self._status.start()
        return self._ports

    def _bind(self, server: grpc.Server, tls: TlsFiles | None) -> int:
        host, port = self.config.grpc_host, self.config.grpc_port
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            if tls is not None:
                bound = server.add_secure_port(address, tls.grpc_credentials())
            else:
                bound = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise ReceiverError(f"cannot listen on {address}: {exc}") from None
        if bound == 0:
            raise ReceiverError(f"cannot listen on {address} (address in use or not available)")
        return bound

    def _close_all(self, drain_timeout: float) -> bool:
        """Tear down in dependency order; every step tolerates the parts that never opened."""
        if self._live_api is not None:
            self._live_api.close()  # ends tail streams, which would otherwise hold the gRPC stop for its grace
        if self._health is not None:
            self._health.enter_graceful_shutdown()
        if self._http is not None:
            self._http.shutdown()
        if self._server is not None:
            self._server.stop(_GRPC_GRACE_SECONDS).wait()
        drained = True
        if self._wal is not None:
            self._wal.close()  # commits the last group; later appends get UNAVAILABLE
        if self._pipeline is not None:
            drained = self._pipeline.stop(drain_timeout)
        if self._status is not None:
            self._status.stop()
        if self._jobs is not None:
            self._jobs.close()
        # A pipeline thread stuck in a store call past the timeout still uses the sink: leave it open then.
        if self._sink is not None and not (self._pipeline is not None and self._pipeline.running):
            self._sink.close()
        return drained
