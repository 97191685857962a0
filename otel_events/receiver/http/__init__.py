"""OTLP/HTTP: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics`` in protobuf or JSON, into the shared intake."""

from __future__ import annotations

from otel_events.receiver.http.server import OtlpHttpServer

__all__ = ["OtlpHttpServer"]
