"""Conversion between OTLP ``AnyValue`` and the store's (text, type code) pair.

The public ``attributes`` maps hold text so that ``attributes['http.route']`` works in plain SQL (SPEC §5).
Strings are stored as they are and have no type code; every other kind gets a code in the hidden
``attr_types`` map so replay rebuilds the exact value:

======  ==========================  ===========================================================
code    kind                        text
======  ==========================  ===========================================================
``b``   bool                        ``true`` / ``false``
``i``   int64                       decimal
``d``   double                      ``repr(float)`` (round-trips exactly, incl. ``nan``/``inf``)
``y``   bytes                       base64
``e``   an AnyValue with no value   NULL
``n``   a KeyValue without value    NULL
``p:…`` array or kvlist             JSON for reading; the code carries the base64 of the serialized
                                    ``AnyValue`` because JSON cannot tell 1 from 1.0 or bytes from text
======  ==========================  ===========================================================
"""

from __future__ import annotations

import base64
import json
import math

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

BOOL = "b"
INT = "i"
DOUBLE = "d"
BYTES = "y"
EMPTY = "e"
NO_VALUE = "n"
PACKED_PREFIX = "p:"


def any_value_to_text(value: AnyValue) -> tuple[str | None, str | None]:
    """Return ``(text, type_code)`` for an ``AnyValue``; ``type_code`` is None for strings."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value, None
    if kind == "bool_value":
        return ("true" if value.bool_value else "false"), BOOL
    if kind == "int_value":
        return str(value.int_value), INT
    if kind == "double_value":
        return repr(value.double_value), DOUBLE
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii"), BYTES
    if kind in ("array_value", "kvlist_value"):
        text = json.dumps(any_value_to_python(value), ensure_ascii=False, separators=(",", ":"))
        return text, PACKED_PREFIX + base64.b64encode(value.SerializeToString()).decode("ascii")
    return None, EMPTY


def any_value_to_python(value: AnyValue) -> object:
    """Return a JSON-compatible Python value (bytes as base64, non-finite doubles as None)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else None
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind == "array_value":
        return [any_value_to_python(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value_to_python(kv.value) for kv in value.kvlist_value.values}
    return None


def text_to_any_value(text: str | None, type_code: str | None, target: AnyValue) -> None:
    """Fill ``target`` with the value described by ``(text, type_code)``; inverse of ``any_value_to_text``."""
    if type_code is None:
        target.string_value = text if text is not None else ""
    elif type_code == BOOL:
        target.bool_value = text == "true"
    elif type_code == INT:
        target.int_value = int(text)
    elif type_code == DOUBLE:
        target.double_value = float(text)
    elif type_code == BYTES:
        target.bytes_value = base64.b64decode(text)
    elif type_code.startswith(PACKED_PREFIX):
        target.MergeFromString(base64.b64decode(type_code[len(PACKED_PREFIX) :]))
    elif type_code == EMPTY:
        target.SetInParent()
    elif type_code != NO_VALUE:
        raise ValueError(f"unknown attribute type code {type_code!r}")


def decode_key_value(raw: bytes) -> tuple[str, str | None, str | None, object]:
    """Decode one serialized ``KeyValue``: ``(key, text, type_code, python_value)``."""
    kv = KeyValue.FromString(raw)
    if not kv.HasField("value"):
        return kv.key, None, NO_VALUE, None
    text, type_code = any_value_to_text(kv.value)
    return kv.key, text, type_code, _scalar(kv.value)


def _scalar(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("string_value", "int_value", "bool_value", "double_value") else None
