"""On-disk framing of WAL records and naming of segment files.

A record is a 20-byte header followed by a body::

    header: body_length u32 | body_crc32 u32 | lsn u64 | header_crc32 u32   (little endian)
    body:   signal u8 | tenant_length u16 | tenant (UTF-8) | payload (the request bytes as received)

The header has its own checksum so that a torn write (a crash in the middle of a record, or the zeros a file
system may leave after one) is recognised before its length is trusted; the body checksum catches a record
whose header reached the disk but whose payload did not. Both stop replay at the last complete record.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from otel_events.receiver.signals import Signal

HEADER = struct.Struct("<IIQI")
_HEADER_CHECKED = struct.Struct("<IIQ")
_BODY_PREFIX = struct.Struct("<BH")
SEGMENT_SUFFIX = ".wal"
# Larger than any record the receiver accepts (the gRPC limit is below 2 GiB): a bigger length is corruption.
MAX_BODY_LENGTH = 2**31

_SIGNAL_CODES: dict[Signal, int] = {Signal.TRACES: 1, Signal.LOGS: 2, Signal.METRICS: 3}
_CODE_SIGNALS: dict[int, Signal] = {code: signal for signal, code in _SIGNAL_CODES.items()}


@dataclass(frozen=True, slots=True)
class WalRecord:
    """One request as stored in the log.

    Attributes:
        lsn: log sequence number, 1, 2, 3, ... in acknowledgement order across segments.
        signal: which OTLP signal the payload is.
        tenant: tenant the request belongs to, ``None`` when unauthenticated.
        payload: the serialized ``Export*ServiceRequest`` bytes.
    """

    lsn: int
    signal: Signal
    tenant: str | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class EncodedBody:
    """A record body ready to be written: a short prefix and the payload, kept apart to avoid copying it."""

    prefix: bytes
    payload: bytes
    crc: int

    @property
    def length(self) -> int:
        """Body length in bytes."""
        return len(self.prefix) + len(self.payload)


def encode_body(signal: Signal, tenant: str | None, payload: bytes) -> EncodedBody:
    """Frame a request body; done on the caller's thread so the writer thread only adds headers."""
    tenant_bytes = (tenant or "").encode("utf-8")
    prefix = _BODY_PREFIX.pack(_SIGNAL_CODES[signal], len(tenant_bytes)) + tenant_bytes
    return EncodedBody(prefix, payload, zlib.crc32(payload, zlib.crc32(prefix)))


def encode_header(lsn: int, body: EncodedBody) -> bytes:
    """The header of the record with sequence number ``lsn``."""
    checked = _HEADER_CHECKED.pack(body.length, body.crc, lsn)
    return checked + struct.pack("<I", zlib.crc32(checked))


def read_record(stream: BinaryIO) -> WalRecord | None:
    """Read the record at the stream's position.

    Returns ``None`` at the end of the data or at an incomplete or corrupt record (a torn tail); the stream
    position is then unspecified, so callers remember the offset of the record start.
    """
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    length, body_crc, lsn, header_crc = HEADER.unpack(header)
    if zlib.crc32(header[: _HEADER_CHECKED.size]) != header_crc or not _BODY_PREFIX.size <= length < MAX_BODY_LENGTH:
        return None
    body = stream.read(length)
    if len(body) < length or zlib.crc32(body) != body_crc:
        return None
    code, tenant_length = _BODY_PREFIX.unpack_from(body)
    signal = _CODE_SIGNALS.get(code)
    tenant_end = _BODY_PREFIX.size + tenant_length
    if signal is None or tenant_end > length:
        return None
    tenant = body[_BODY_PREFIX.size : tenant_end].decode("utf-8") or None
    return WalRecord(lsn, signal, tenant, body[tenant_end:])


def segment_name(first_lsn: int) -> str:
    """File name of the segment whose first record is ``first_lsn`` (zero-padded so names sort by LSN)."""
    return f"{first_lsn:020d}{SEGMENT_SUFFIX}"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """The segments in ``directory`` as ``(first_lsn, path)`` sorted by LSN; other files are ignored."""
    segments = []
    for path in directory.iterdir():
        stem = path.name.removesuffix(SEGMENT_SUFFIX)
        if path.name.endswith(SEGMENT_SUFFIX) and stem.isdigit():
            segments.append((int(stem), path))
    return sorted(segments)
