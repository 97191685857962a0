"""Reading an OTLP/HTTP request body: length-delimited or chunked, then decompressed, never past a size limit."""

from __future__ import annotations

import zlib
from http import HTTPStatus
from typing import BinaryIO

from otel_events.receiver.http.errors import HttpError

# zlib window bits: 16 + MAX_WBITS accepts only the gzip format; MAX_WBITS the zlib format ("deflate" in HTTP).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_CHUNK_LINE_LIMIT = 1024


def read_body(stream: BinaryIO, headers: dict[str, str], limit: int) -> bytes:
    """Read the raw (possibly compressed) body of a request.

    Args:
        stream: the connection's read side, positioned after the headers.
        headers: request headers with lower-case names.
        limit: largest body accepted, in bytes.

    Raises:
        HttpError: 411 without a length, 413 past ``limit``, 400 for a malformed length or chunk.
    """
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _read_chunked(stream, limit)
    text = headers.get("content-length")
    if text is None:
        raise HttpError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header or chunked encoding is required")
    if not text.strip().isdigit():
        raise HttpError(HTTPStatus.BAD_REQUEST, "Content-Length must be a non-negative integer", close=True)
    length = int(text)
    if length > limit:
        raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _too_large(limit), close=True)
    body = stream.read(length)
    if len(body) != length:
        raise HttpError(HTTPStatus.BAD_REQUEST, "the connection closed before the whole body arrived", close=True)
    return body


def _read_chunked(stream: BinaryIO, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = stream.readline(_CHUNK_LINE_LIMIT)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "malformed chunked encoding", close=True) from None
        if size < 0:
            raise HttpError(HTTPStatus.BAD_REQUEST, "malformed chunked encoding", close=True)
        if size == 0:
            while stream.readline(_CHUNK_LINE_LIMIT) not in (b"\r\n", b"\n", b""):
                pass  # trailers are ignored
            return b"".join(parts)
        total += size
        if total > limit:
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _too_large(limit), close=True)
        chunk = stream.read(size)
        if len(chunk) != size or stream.readline(_CHUNK_LINE_LIMIT) not in (b"\r\n", b"\n"):
            raise HttpError(HTTPStatus.BAD_REQUEST, "malformed chunked encoding", close=True)
        parts.append(chunk)


def decode_content(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip or deflate), refusing output past ``limit`` before it is all inflated.

    Raises:
        HttpError: 415 for an unsupported encoding, 400 for corrupt data, 413 when it inflates past ``limit``.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise HttpError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"unsupported Content-Encoding {encoding[:40]!r} (supported: gzip, deflate, identity)",
        )
    inflater = zlib.decompressobj(wbits)
    try:
        # max_length bounds the output, so a small "zip bomb" never allocates more than limit + 1 bytes.
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"the {encoding} body cannot be decompressed: {exc}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the decompressed body is {_too_large(limit)}")
    if not inflater.eof:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"the {encoding} body is truncated")
    return data


def _too_large(limit: int) -> str:
    return f"larger than the receiver's max message size ({limit} bytes)"
