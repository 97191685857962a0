"""Exceptions raised by otel_events: one base class, a few grouped subclasses."""

from __future__ import annotations


class OtelEventsError(Exception):
    """Base class of every error otel_events raises on purpose."""


class ConfigError(OtelEventsError, ValueError):
    """A configuration value, file or argument is invalid."""


class RulesError(ConfigError):
    """A classification rules file cannot be read or is invalid (names the file, line and problem)."""


class StoreError(OtelEventsError):
    """The DuckDB store cannot be opened, migrated or written."""


class SchemaVersionError(StoreError):
    """The store was written by a newer otel_events and is refused."""


class ReceiverError(OtelEventsError):
    """The receiver cannot start, or cannot accept data right now (WAL write failure, shutting down)."""


class FilterSyntaxError(OtelEventsError, ValueError):
    """A filter expression is invalid; carries the offending position."""

    def __init__(self, message: str, position: int, expression: str) -> None:
        self.position = position
        self.expression = expression
        pointer = " " * position + "^"
        super().__init__(f"{message} at position {position}\n  {expression}\n  {pointer}")


class RequestDecodeError(OtelEventsError, ValueError):
    """An OTLP export request is not valid protobuf (answered with INVALID_ARGUMENT)."""


class QueryError(OtelEventsError):
    """An analysis query was refused by DuckDB at run time (e.g. a regular expression it cannot compile)."""


class ReadOnlyQueryError(QueryError, ValueError):
    """A statement sent to the receiver's query API could write, or reaches beyond what the caller may read."""


class RemoteError(OtelEventsError):
    """The receiver's query API refused a call or could not be reached."""


class UnreachableError(RemoteError):
    """Nothing answers at the receiver address (gRPC ``UNAVAILABLE``)."""


class NotFoundError(OtelEventsError, LookupError):
    """A trace id, correlation id or other key names nothing in the store."""


class ReplayError(OtelEventsError):
    """A replay target refused a request permanently, or stayed unreachable through every retry."""
