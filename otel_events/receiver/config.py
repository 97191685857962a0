"""Receiver configuration: one dataclass with defaults and ``validate()``, loadable from TOML and environment.

Precedence: explicit values (command line, then the ``--config`` TOML file) > ``OTEL_EVENTS_*`` environment
variables > defaults. A bad environment value warns and falls back; a bad explicit value raises ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from otel_events.errors import ConfigError
from otel_events.receiver import environment
from otel_events.store.retention import RetentionPolicy
from otel_events.stream.handlers import HandlerRule, parse_handler_rules

_logger = logging.getLogger(__name__)

MIB = 1024 * 1024
DEFAULT_DB_PATH = Path("otel_events.duckdb")
DEFAULT_GRPC_ENDPOINT = "127.0.0.1:4317"
DEFAULT_HTTP_ENDPOINT = "127.0.0.1:4318"
HTTP_DISABLED = "none"
DEFAULT_MAX_MESSAGE_SIZE = 16 * MIB


@dataclass(frozen=True)
class ReceiverConfig:
    """Everything a receiver needs to run.

    Attributes:
        db_path: DuckDB file the receiver writes.
        grpc_endpoint: ``HOST:PORT`` of the OTLP/gRPC listener; port 0 binds a free port.
        wal_dir: write-ahead log directory; ``None`` means ``<db_path without suffix>.wal`` next to the database.
        max_message_size: largest accepted request in bytes; larger ones get ``RESOURCE_EXHAUSTED``.
        wal_segment_bytes: a WAL segment is closed and a new one started past this size; stored segments are
            deleted whole, so smaller segments free disk sooner.
        wal_max_bytes: budget of WAL bytes not yet stored in DuckDB; past it requests are refused with
            ``RESOURCE_EXHAUSTED`` and a retry delay so exporters back off. Filling it also sheds low-priority
            items first (``otel_events.receiver.admission``: debug from 50 %, system from 70 %, the rest but
            critical from 85 %).
        inflight_max_bytes: memory budget of request bytes being handled at once; shares the shedding thresholds
            with the WAL budget (pressure is the fuller of the two).
        batch_max_bytes: payload bytes per batch sent to a decoder; batches decoded while DuckDB appends are then
            appended together (PERF-NOTES: large DuckDB commits are several times faster than small ones), so this
            mostly bounds memory: measured, a decoder peaks at ~90 MiB with 2 MiB batches and ~165 MiB with 8 MiB.
        store_memory_mib: DuckDB memory limit; without it DuckDB's buffer pool grows towards 80% of the machine's
            memory (measured: ~770 MiB receiver RSS after 600k spans, ~390 MiB with a 150 MB limit).
        grpc_workers: threads serving RPCs; each waits for its group commit, so this bounds in-flight requests.
        decode_workers: processes decoding WAL batches for the store (default: one per core, at most 4: two
            decode ~180k spans/s, more than DuckDB appends); 0 decodes in the receiver process, where decoding
            competes with the gRPC handlers for the GIL.
        rules_file: classification rules for items that arrive unclassified; ``None`` uses the packaged rules.
        status_interval: seconds between rewrites of the status file read by ``otel-events status``.
        shutdown_timeout: seconds ``shutdown()`` waits for in-flight requests and the drain into DuckDB.
        http_endpoint: ``HOST:PORT`` of the OTLP/HTTP listener, or ``"none"`` for no HTTP listener.
        tls_cert: PEM server certificate chain; with ``tls_key`` both listeners serve TLS only.
        tls_key: PEM private key of ``tls_cert``.
        tls_client_ca: PEM CA certificates for client certificates; set means mutual TLS.
        tokens_file: bearer tokens (``<token> = <tenant>`` lines or a TOML ``[tokens]`` table); without it the
            ``OTEL_EVENTS_TOKENS`` variable is used, and without both every request is accepted without a tenant.
        retention: per-category retention applied periodically (``[retention]`` table, SPEC §7).
        handlers: ``[[handlers]]`` rules run on stored items (SPEC §7).
        tail_max_subscribers: ``otel-events tail`` streams served at once; the next is refused (SPEC §7).
        tail_buffer_items: items buffered per tail subscriber before its oldest are dropped.
    """

    db_path: Path = DEFAULT_DB_PATH
    grpc_endpoint: str = DEFAULT_GRPC_ENDPOINT
    wal_dir: Path | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    wal_segment_bytes: int = 64 * MIB
    wal_max_bytes: int = 2048 * MIB
    inflight_max_bytes: int = 256 * MIB
    batch_max_bytes: int = 2 * MIB
    store_memory_mib: int = 128
    grpc_workers: int = 32
    decode_workers: int = field(default_factory=lambda: min(4, len(os.sched_getaffinity(0))))
    rules_file: Path | None = None
    status_interval: float = 1.0
    shutdown_timeout: float = 60.0
    http_endpoint: str = DEFAULT_HTTP_ENDPOINT
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    tokens_file: Path | None = None
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    handlers: tuple[HandlerRule, ...] = ()
    tail_max_subscribers: int = 100
    tail_buffer_items: int = 10_000

    def validate(self) -> ReceiverConfig:
        """Check every value; returns ``self`` so calls chain.

        Raises:
            ConfigError: naming the first invalid value.
        """
        parse_endpoint(self.grpc_endpoint)
        if str(self.db_path) == "":
            raise ConfigError("db path must not be empty")
        if self.max_message_size < 1024:
            raise ConfigError(f"max message size must be at least 1024 bytes, got {self.max_message_size}")
        if self.max_message_size > 2**31 - 1:
            raise ConfigError(f"max message size must be below 2 GiB (a gRPC limit), got {self.max_message_size}")
        if self.wal_segment_bytes < 4096:
            raise ConfigError(f"WAL segment size must be at least 4096 bytes, got {self.wal_segment_bytes}")
        if self.wal_max_bytes < self.max_message_size:
            raise ConfigError(
                f"WAL budget ({self.wal_max_bytes} bytes) must be at least the max message size "
                f"({self.max_message_size})"
            )
        if self.inflight_max_bytes < 2 * self.max_message_size:
            # One request of the largest size alone must not put the receiver past its shedding thresholds.
            raise ConfigError(
                f"in-flight budget ({self.inflight_max_bytes} bytes) must be at least twice the max message size "
                f"({self.max_message_size})"
            )
        if self.batch_max_bytes < 1:
            raise ConfigError(f"batch size must be positive, got {self.batch_max_bytes}")
        if self.store_memory_mib < 16:
            raise ConfigError(f"store memory limit must be at least 16 MiB, got {self.store_memory_mib}")
        if not 1 <= self.grpc_workers <= 1024:
            raise ConfigError(f"gRPC workers must be between 1 and 1024, got {self.grpc_workers}")
        if not 0 <= self.decode_workers <= 64:
            raise ConfigError(f"decode workers must be between 0 and 64, got {self.decode_workers}")
        if not 1 <= self.tail_max_subscribers <= 1000:
            raise ConfigError(f"tail subscribers must be between 1 and 1000, got {self.tail_max_subscribers}")
        if self.tail_buffer_items < 1:
            raise ConfigError(f"tail buffer must hold at least 1 item, got {self.tail_buffer_items}")
        if self.status_interval <= 0:
            raise ConfigError(f"status interval must be positive, got {self.status_interval}")
        if self.shutdown_timeout <= 0:
            raise ConfigError(f"shutdown timeout must be positive, got {self.shutdown_timeout}")
        if self.http_enabled:
            parse_endpoint(self.http_endpoint)
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both a certificate and a key (--tls-cert and --tls-key)")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ConfigError("a TLS client CA (mutual TLS) needs a server certificate and key as well")
        return self

    @property
    def http_enabled(self) -> bool:
        """Whether the OTLP/HTTP listener runs (``http_endpoint`` is not ``"none"``)."""
        return self.http_endpoint.strip().lower() != HTTP_DISABLED

    @property
    def http_host(self) -> str:
        """Host part of ``http_endpoint``."""
        return parse_endpoint(self.http_endpoint)[0]

    @property
    def http_port(self) -> int:
        """Port part of ``http_endpoint`` (0 means any free port)."""
        return parse_endpoint(self.http_endpoint)[1]

    @property
    def resolved_wal_dir(self) -> Path:
        """The WAL directory: ``wal_dir`` or ``<db_path without suffix>.wal`` next to the database."""
        return self.wal_dir if self.wal_dir is not None else default_wal_dir(self.db_path)

    @property
    def grpc_host(self) -> str:
        """Host part of ``grpc_endpoint``."""
        return parse_endpoint(self.grpc_endpoint)[0]

    @property
    def grpc_port(self) -> int:
        """Port part of ``grpc_endpoint`` (0 means any free port)."""
        return parse_endpoint(self.grpc_endpoint)[1]


def default_wal_dir(db_path: Path) -> Path:
    """The WAL directory used when none is configured: ``otel_events.duckdb`` -> ``otel_events.wal``."""
    return db_path.with_name(db_path.stem + ".wal")


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:PORT`` for IPv6).

    Raises:
        ConfigError: when the text is not ``HOST:PORT`` with a port in 0..65535.
    """
    host, sep, port_text = endpoint.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"invalid endpoint {endpoint!r}: expected HOST:PORT with a port between 0 and 65535")
    return host, int(port_text)


_FIELD_TYPES: dict[str, type] = {
    "db_path": Path,
    "grpc_endpoint": str,
    "wal_dir": Path,
    "max_message_size": int,
    "wal_segment_bytes": int,
    "wal_max_bytes": int,
    "inflight_max_bytes": int,
    "batch_max_bytes": int,
    "store_memory_mib": int,
    "grpc_workers": int,
    "decode_workers": int,
    "rules_file": Path,
    "status_interval": float,
    "shutdown_timeout": float,
    "http_endpoint": str,
    "tls_cert": Path,
    "tls_key": Path,
    "tls_client_ca": Path,
    "tokens_file": Path,
    "tail_max_subscribers": int,
    "tail_buffer_items": int,
}

# TOML keys (``[receiver]`` table) -> field names; the short names match the command-line flags.
_TOML_KEYS: dict[str, str] = {
    "db": "db_path",
    "grpc": "grpc_endpoint",
    "wal_dir": "wal_dir",
    "max_message_size": "max_message_size",
    "wal_segment_bytes": "wal_segment_bytes",
    "wal_max_bytes": "wal_max_bytes",
    "inflight_max_bytes": "inflight_max_bytes",
    "batch_max_bytes": "batch_max_bytes",
    "store_memory_mib": "store_memory_mib",
    "grpc_workers": "grpc_workers",
    "decode_workers": "decode_workers",
    "rules_file": "rules_file",
    "status_interval": "status_interval",
    "shutdown_timeout": "shutdown_timeout",
    "http": "http_endpoint",
    "tls_cert": "tls_cert",
    "tls_key": "tls_key",
    "tls_client_ca": "tls_client_ca",
    "tokens": "tokens_file",
    "tail_max_subscribers": "tail_max_subscribers",
    "tail_buffer_items": "tail_buffer_items",
}

_ENV_KEYS: dict[str, str] = {
    environment.OTEL_EVENTS_DB: "db_path",
    environment.OTEL_EVENTS_GRPC_ENDPOINT: "grpc_endpoint",
    environment.OTEL_EVENTS_WAL_DIR: "wal_dir",
    environment.OTEL_EVENTS_MAX_MESSAGE_SIZE: "max_message_size",
    environment.OTEL_EVENTS_WAL_MAX_BYTES: "wal_max_bytes",
    environment.OTEL_EVENTS_INFLIGHT_MAX_BYTES: "inflight_max_bytes",
    environment.OTEL_EVENTS_HTTP_ENDPOINT: "http_endpoint",
}


def _coerce(name: str, value: object, origin: str) -> object:
    kind = _FIELD_TYPES[name]
    if kind is Path:
        if not isinstance(value, str | os.PathLike):
            raise ConfigError(f"{origin}: {name} must be a path string, got {value!r}")
        return Path(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{origin}: {name} must be a string, got {value!r}")
        return value
    if isinstance(value, bool):
        raise ConfigError(f"{origin}: {name} must be a number, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: {name} must be a number, got {value!r}") from None


def read_toml(path: Path) -> dict[str, object]:
    """Read a ``[receiver]`` table from a TOML file into ``ReceiverConfig`` field values.

    Raises:
        ConfigError: naming the file when it is missing, not TOML, or has unknown keys or wrong types.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    table = document.get("receiver", {})
    unknown_tables = sorted(set(document) - {"receiver", "retention", "handlers"})
    if unknown_tables:
        raise ConfigError(
            f"config file {path}: unknown table(s) {', '.join(unknown_tables)}; "
            "expected [receiver], [retention] or [[handlers]]"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [receiver] must be a table")
    values: dict[str, object] = {}
    for key, value in table.items():
        name = _TOML_KEYS.get(key)
        if name is None:
            raise ConfigError(f"config file {path}: unknown key {key!r} (known: {', '.join(sorted(_TOML_KEYS))})")
        values[name] = _coerce(name, value, f"config file {path}")
    if "retention" in document:
        retention = document["retention"]
        if not isinstance(retention, dict):
            raise ConfigError(f"config file {path}: [retention] must be a table")
        values["retention"] = RetentionPolicy.from_table(retention, f"config file {path}")
    if "handlers" in document:
        values["handlers"] = parse_handler_rules(document["handlers"], f"config file {path}")
    return values


def read_environment(environ: Mapping[str, str]) -> dict[str, object]:
    """Read ``OTEL_EVENTS_*`` variables; a bad value logs a warning and is ignored."""
    values: dict[str, object] = {}
    for variable, name in _ENV_KEYS.items():
        text = environ.get(variable)
        if not text:
            continue
        try:
            value = _coerce(name, text, f"environment variable {variable}")
            if name == "grpc_endpoint" or (name == "http_endpoint" and str(value).lower() != HTTP_DISABLED):
                parse_endpoint(str(value))
        except ConfigError as exc:
            _logger.warning("ignoring environment variable %s: %s; using the default", variable, exc)
            continue
        values[name] = value
    return values


def load_config(
    overrides: Mapping[str, object] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ReceiverConfig:
    """Build a validated config from defaults < environment < config file < explicit overrides.

    Args:
        overrides: field values given explicitly (e.g. command-line flags); ``None`` values are ignored.
        config_file: optional TOML file with a ``[receiver]`` table.
        environ: environment to read (default ``os.environ``).

    Raises:
        ConfigError: for an invalid file or explicit value.
    """
    values = read_environment(os.environ if environ is None else environ)
    if config_file is not None:
        values.update(read_toml(config_file))
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value, "argument")
    known = {f.name for f in dataclasses.fields(ReceiverConfig)}
    return ReceiverConfig(**{k: v for k, v in values.items() if k in known}).validate()
