"""Environment variables read by the receiver, one documented constant each.

Precedence everywhere: explicit argument (command line or config file) > environment > default. A bad
environment value logs a warning and falls back to the default; a bad explicit value raises ``ConfigError``.
"""

from __future__ import annotations

OTEL_EVENTS_DB = "OTEL_EVENTS_DB"
"""Path of the DuckDB file the receiver writes (default ``./otel_events.duckdb``)."""

OTEL_EVENTS_GRPC_ENDPOINT = "OTEL_EVENTS_GRPC_ENDPOINT"
"""``HOST:PORT`` the OTLP/gRPC listener binds (default ``127.0.0.1:4317``; port 0 picks a free port)."""

OTEL_EVENTS_WAL_DIR = "OTEL_EVENTS_WAL_DIR"
"""Directory of the write-ahead log (default: next to the database, ``<db stem>.wal/``)."""

OTEL_EVENTS_MAX_MESSAGE_SIZE = "OTEL_EVENTS_MAX_MESSAGE_SIZE"
"""Largest accepted request in bytes after decompression (default 16 MiB); larger ones get RESOURCE_EXHAUSTED."""

OTEL_EVENTS_WAL_MAX_BYTES = "OTEL_EVENTS_WAL_MAX_BYTES"
"""WAL budget in bytes not yet stored in DuckDB; past it requests get RESOURCE_EXHAUSTED with a retry delay."""

OTEL_EVENTS_INFLIGHT_MAX_BYTES = "OTEL_EVENTS_INFLIGHT_MAX_BYTES"
"""Memory budget of request bytes handled at once (default 256 MiB); like the WAL budget it drives shedding."""

OTEL_EVENTS_HTTP_ENDPOINT = "OTEL_EVENTS_HTTP_ENDPOINT"
"""``HOST:PORT`` the OTLP/HTTP listener binds (default ``127.0.0.1:4318``; ``none`` turns it off)."""

OTEL_EVENTS_TOKENS = "OTEL_EVENTS_TOKENS"
"""Bearer tokens as comma-separated ``<tenant>:<token>`` pairs, used when no tokens file is configured.
A malformed value stops the receiver from starting (falling back would switch authentication off)."""
