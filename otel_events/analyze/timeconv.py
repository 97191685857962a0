"""Conversions between epoch nanoseconds and the naive UTC datetimes analyses return."""

from __future__ import annotations

from datetime import datetime, timedelta

_EPOCH = datetime(1970, 1, 1)


def from_epoch_ns(ns: int) -> datetime:
    """Naive UTC datetime for epoch nanoseconds (microsecond precision, as Python datetimes have)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def to_epoch_ns(value: datetime) -> int:
    """Epoch nanoseconds of a naive UTC datetime."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
