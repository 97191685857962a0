"""Normalised resources and instrumentation scopes: each distinct one gets an id and is stored once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from otel_events.store.anyvalue import any_value_to_text
from otel_events.store.columns import STRING_MAP, insert_arrow

if TYPE_CHECKING:
    # Only a type here: decoder processes use resource_row/scope_row and must not load DuckDB.
    import duckdb

# The serialized message and the schema_url are joined with a byte that cannot start a protobuf field, so
# (message, url) pairs map to distinct keys.
_SEPARATOR = b"\x00"


def resource_row(resource_bytes: bytes, schema_url: str) -> tuple:
    """The ``resources`` row of a serialized ``Resource`` (without its id)."""
    resource = Resource.FromString(resource_bytes)
    attributes = {}
    for kv in resource.attributes:
        attributes[kv.key] = any_value_to_text(kv.value)[0]
    return (attributes.get("service.name"), list(attributes.items()), schema_url or None, resource_bytes)


def scope_row(scope_bytes: bytes, schema_url: str) -> tuple:
    """The ``scopes`` row of a serialized ``InstrumentationScope`` (without its id)."""
    scope = InstrumentationScope.FromString(scope_bytes)
    return (scope.name or None, scope.version or None, schema_url or None, scope_bytes)


@dataclass
class _Table:
    """Ids of one normalised table: known ones, and those added by the batch being written."""

    ids: dict[bytes, int] = field(default_factory=dict)
    pending: dict[bytes, tuple] = field(default_factory=dict)
    next_id: int = 1


class Registry:
    """Resolves resources and scopes of incoming requests to ids, remembering which rows are new.

    New rows become visible to later lookups at once and are written with the batch (``pending_rows``);
    ``commit``/``rollback`` follow the outcome of the DuckDB transaction.
    """

    def __init__(self) -> None:
        self._resources = _Table()
        self._scopes = _Table()

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        """Read the existing ids from the store."""
        for table, sql in (
            (self._resources, "SELECT resource_id, proto, coalesce(schema_url, '') FROM resources"),
            (self._scopes, "SELECT scope_id, proto, coalesce(schema_url, '') FROM scopes"),
        ):
            rows = con.execute(sql).fetchall()
            table.ids = {bytes(row[1]) + _SEPARATOR + row[2].encode(): row[0] for row in rows}
            table.next_id = max((row[0] for row in rows), default=0) + 1

    def resource_id(self, resource_bytes: bytes, schema_url: str) -> int:
        """Id of a serialized ``Resource`` with its ``schema_url``, registering it if new."""
        key = resource_bytes + _SEPARATOR + schema_url.encode()
        found = self._resources.ids.get(key)
        if found is not None:
            return found
        row = resource_row(resource_bytes, schema_url)
        return self._register(self._resources, key, row)

    def scope_id(self, scope_bytes: bytes, schema_url: str) -> int:
        """Id of a serialized ``InstrumentationScope`` with its ``schema_url``, registering it if new."""
        key = scope_bytes + _SEPARATOR + schema_url.encode()
        found = self._scopes.ids.get(key)
        if found is not None:
            return found
        row = scope_row(scope_bytes, schema_url)
        return self._register(self._scopes, key, row)

    @staticmethod
    def _register(table: _Table, key: bytes, row: tuple) -> int:
        row_id = table.next_id
        table.next_id += 1
        table.ids[key] = row_id
        table.pending[key] = (row_id, *row)
        return row_id

    def write_pending(self, con: duckdb.DuckDBPyConnection) -> None:
        """Insert the rows registered since the last commit (inside the caller's transaction)."""
        if self._resources.pending:
            rows = list(zip(*self._resources.pending.values(), strict=True))
            insert_arrow(
                con,
                "resources",
                pa.table(
                    {
                        "resource_id": pa.array(rows[0], pa.uint32()),
                        "service_name": pa.array(rows[1], pa.string()),
                        "attributes": pa.array(rows[2], STRING_MAP),
                        "schema_url": pa.array(rows[3], pa.string()),
                        "proto": pa.array(rows[4], pa.binary()),
                    }
                ),
            )
        if self._scopes.pending:
            rows = list(zip(*self._scopes.pending.values(), strict=True))
            insert_arrow(
                con,
                "scopes",
                pa.table(
                    {
                        "scope_id": pa.array(rows[0], pa.uint32()),
                        "name": pa.array(rows[1], pa.string()),
                        "version": pa.array(rows[2], pa.string()),
                        "schema_url": pa.array(rows[3], pa.string()),
                        "proto": pa.array(rows[4], pa.binary()),
                    }
                ),
            )

    def commit(self) -> None:
        """The pending rows are stored."""
        self._resources.pending.clear()
        self._scopes.pending.clear()

    def rollback(self) -> None:
        """The pending rows were not stored: forget them."""
        for table in (self._resources, self._scopes):
            for key in table.pending:
                del table.ids[key]
            table.next_id -= len(table.pending)
            table.pending.clear()
