"""Analysis results as JSON that decodes back to the same Python values, so remote output equals local output.

Plain JSON would turn a ``datetime`` into a string and ``nan`` into nothing; the renderers format those
differently from their text, so such values travel as one-key tagged objects (documented in ``proto/``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math

_DATETIME = "$datetime"
_DATE = "$date"
_FLOAT = "$float"
_DECIMAL = "$decimal"
_TIMEDELTA = "$seconds"
_TAGS = frozenset({_DATETIME, _DATE, _FLOAT, _DECIMAL, _TIMEDELTA})


def encode_result(value: object) -> str:
    """Encode an analysis result (rows, sections or text) as tagged JSON.

    Raises:
        TypeError: for a value type an analysis never returns.
    """
    return json.dumps(_tag(value), separators=(",", ":"), allow_nan=False)


def decode_result(text: str) -> object:
    """The value ``encode_result`` was given (tuples come back as lists, which render the same)."""
    return _untag(json.loads(text))


def _tag(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {_FLOAT: repr(value)}
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return {_DATETIME: value.isoformat()}
    if isinstance(value, dt.date):
        return {_DATE: value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {_TIMEDELTA: value.total_seconds()}
    if isinstance(value, decimal.Decimal):
        return {_DECIMAL: str(value)}
    if isinstance(value, dict):
        return {str(key): _tag(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_tag(item) for item in value]
    raise TypeError(f"cannot encode a {type(value).__name__} in an analysis result")


def _untag(value: object) -> object:
    if isinstance(value, list):
        return [_untag(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, item),) = value.items()
        if key in _TAGS:
            return _TAG_DECODERS[key](item)
    return {key: _untag(item) for key, item in value.items()}


_TAG_DECODERS = {
    _DATETIME: dt.datetime.fromisoformat,
    _DATE: dt.date.fromisoformat,
    _FLOAT: float,
    _DECIMAL: decimal.Decimal,
    _TIMEDELTA: lambda seconds: dt.timedelta(seconds=seconds),
}
