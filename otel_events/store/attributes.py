"""Decoding of raw ``KeyValue`` bytes with a memo (the hot loop of ingest, PERF-NOTES "Decoding").

A memo entry is ``(key, text, kind, type_code, scalar)``: ``kind`` says what the decoder does with it:
PLAIN (a string value: into the map, no type code), TYPED (into the map with a type code) or STAMP (an
``otel_events.*`` value that goes to its column, see stamps.py).
"""

from __future__ import annotations

import json
import struct

from otel_events.store.anyvalue import BOOL, DOUBLE, INT, decode_key_value
from otel_events.store.stamps import ATTR_SEQ, is_column_stamp

PLAIN = 0
TYPED = 1
STAMP = 2

# Realistic attribute sets repeat (routes, methods, hosts), so most lookups hit; the memo is emptied when it
# grows past this many entries, which bounds its memory (~40 MB) whatever the cardinality of the values.
MEMO_LIMIT = 200_000

_DOUBLE = struct.Struct("<d")

# KeyValue{key: "otel_events.seq", value: AnyValue{int_value: ...}} up to the varint: field 1 (key), field 2
# (value) with a one-byte length, then AnyValue field 3 (int_value).
_SEQ_KEY = ATTR_SEQ.encode()
_SEQ_INT_PREFIX = b"\x0a" + bytes([len(_SEQ_KEY)]) + _SEQ_KEY + b"\x12"

# Distinct sets of type codes are few (an item's non-string keys repeat from item to item); bounded all the same.
_TYPE_TEXT_LIMIT = 10_000


class AttributeMemo:
    """Raw ``KeyValue`` bytes -> decoded entry, and type-code maps -> their ``attr_types`` text."""

    def __init__(self) -> None:
        self.entries: dict[bytes, tuple] = {}
        self.type_texts: dict[tuple, str] = {}

    def types_text(self, types: dict[str, str]) -> str:
        """The ``attr_types`` column value of an item: its key -> type code map as JSON object text."""
        key = tuple(types.items())
        text = self.type_texts.get(key)
        if text is None:
            text = json.dumps(types, ensure_ascii=False, separators=(",", ":"))
            if len(self.type_texts) >= _TYPE_TEXT_LIMIT:
                self.type_texts.clear()
            self.type_texts[key] = text
        return text

    def decode(self, raw: bytes) -> tuple:
        """Decode a ``KeyValue`` missing from the memo and remember it."""
        if raw.startswith(_SEQ_INT_PREFIX):
            # otel_events.seq is on every stamped item and unique: parsed here, never remembered (it would only
            # push the repeating entries out of the memo).
            seq = _parse_varint(raw, len(_SEQ_INT_PREFIX))
            if seq is not None:
                return (ATTR_SEQ, str(seq), STAMP, INT, seq)
        entry = _parse_simple(raw)
        if entry is None:
            key, text, type_code, scalar = decode_key_value(raw)
            entry = (key, text, type_code, scalar)
        key, text, type_code, scalar = entry
        kind = STAMP if is_column_stamp(key, scalar) else PLAIN if type_code is None else TYPED
        decoded = (key, text, kind, type_code, scalar)
        entries = self.entries
        if len(entries) >= MEMO_LIMIT:
            entries.clear()
        entries[raw] = decoded
        return decoded


def _parse_varint(raw: bytes, at: int) -> int | None:
    """The int64 of ``<length byte> 0x18 <varint>`` at ``at`` when that is all the rest of ``raw``, else None."""
    if len(raw) < at + 3 or raw[at] != len(raw) - at - 1 or raw[at + 1] != 0x18 or raw[-1] >= 0x80:
        return None
    number = 0
    shift = 0
    for byte in raw[at + 2 :]:
        number |= (byte & 0x7F) << shift
        shift += 7
    if shift > 70:
        return None
    return number - (1 << 64) if number >= 1 << 63 else number


def _parse_simple(raw: bytes) -> tuple | None:
    """Hand-parse the common shapes (short key; string, int, bool or double value) in one pass.

    The general protobuf path costs ~1.5 µs per KeyValue; this one a third of that. Anything unusual (long
    fields, other kinds, repeated or reordered fields) returns None and takes the general path.
    """
    size = len(raw)
    if size < 4 or raw[0] != 0x0A or raw[1] >= 0x80:
        return None
    value_at = 2 + raw[1]
    if value_at + 3 > size or raw[value_at] != 0x12 or raw[value_at + 1] >= 0x80:
        return None
    start = value_at + 2
    if start + raw[value_at + 1] != size:
        return None
    key = raw[2:value_at].decode()
    tag = raw[start]
    if tag == 0x0A:
        if raw[start + 1] >= 0x80 or start + 2 + raw[start + 1] != size:
            return None
        text = raw[start + 2 :].decode()
        return key, text, None, text
    if tag == 0x18:
        number = 0
        shift = 0
        for byte in raw[start + 1 :]:
            number |= (byte & 0x7F) << shift
            shift += 7
        if raw[-1] >= 0x80 or shift > 70:
            return None
        if number >= 1 << 63:
            number -= 1 << 64
        return key, str(number), INT, number
    if tag == 0x10 and start + 2 == size and raw[start + 1] < 2:
        flag = raw[start + 1] == 1
        return key, ("true" if flag else "false"), BOOL, flag
    if tag == 0x21 and start + 9 == size:
        number = _DOUBLE.unpack_from(raw, start + 1)[0]
        return key, repr(number), DOUBLE, number
    return None
