"""Time windows of the analyses: ``--since 15m|2h|7d|<ISO time>``, ``--until <ISO time>``, baselines.

All times are naive UTC datetimes, the way the store's ``TIMESTAMP_NS`` columns compare without any session
time zone conversion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from otel_events.analyze.filter import parse_time_literal
from otel_events.errors import ConfigError

DEFAULT_SPAN = timedelta(hours=24)
_DURATION_RE = re.compile(r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d|w)")
_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}

TimeSpec = datetime | str | timedelta | None


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range ``[since, until)`` in naive UTC."""

    since: datetime
    until: datetime

    @property
    def minutes(self) -> float:
        """Length of the window in minutes (for rates)."""
        return max((self.until - self.since).total_seconds() / 60.0, 1e-9)

    def shifted(self, delta: timedelta) -> Window:
        """The same-length window ``delta`` earlier."""
        return Window(self.since - delta, self.until - delta)


def utc_now() -> datetime:
    """The current time as naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def parse_duration(text: str) -> timedelta:
    """Parse ``15m``, ``2h``, ``7d``, ``1h30m``, ``500ms``.

    Raises:
        ConfigError: when the text is not a duration.
    """
    compact = text.strip().lower()
    pos = 0
    total = timedelta()
    for match in _DURATION_RE.finditer(compact):
        if match.start() != pos:
            break
        total += float(match["amount"]) * _UNITS[match["unit"]]
        pos = match.end()
    if not compact or pos != len(compact):
        raise ConfigError(f"invalid duration {text!r}: expected e.g. 15m, 2h, 7d, 1h30m")
    return total


def to_time(spec: datetime | str | timedelta, now: datetime) -> datetime:
    """Resolve a time given as a datetime, an ISO string, a duration before ``now`` (``2h``) or a timedelta.

    Raises:
        ConfigError: when a string is neither a duration nor an ISO-8601 time.
    """
    if isinstance(spec, datetime):
        return spec.astimezone(UTC).replace(tzinfo=None) if spec.tzinfo else spec
    if isinstance(spec, timedelta):
        return now - spec
    text = spec.strip()
    if text.lower() == "now":
        return now
    if _is_duration(text):
        return now - parse_duration(text)
    try:
        return parse_time_literal(text)
    except ValueError:
        raise ConfigError(f"invalid time {spec!r}: expected a duration (15m, 2h, 7d) or an ISO-8601 time") from None


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ConfigError:
        return False
    return True


def resolve_window(since: TimeSpec = None, until: TimeSpec = None, *, now: datetime | None = None) -> Window:
    """Build the analysis window; the default is the last 24 hours.

    Args:
        since: start (datetime, ISO string, or a duration before ``until``'s "now" such as ``15m``).
        until: end (datetime or ISO string); default now.
        now: the reference time (tests pass a fixed one).

    Raises:
        ConfigError: on unparseable times or an empty window.
    """
    now = now or utc_now()
    end = to_time(until, now) if until is not None else now
    start = to_time(since, end) if since is not None else end - DEFAULT_SPAN
    if start >= end:
        raise ConfigError(f"empty time window: since {start.isoformat()} is not before until {end.isoformat()}")
    return Window(start, end)


def resolve_baseline(spec: str | None, window: Window) -> Window | None:
    """Resolve ``--baseline``: ``START..END`` (times or durations before now), or one duration ``D`` meaning the
    same window D earlier. Returns None when ``spec`` is not a window (then it may be a filter).
    """
    if spec is None:
        return None
    text = spec.strip()
    if ".." in text and "'" not in text and '"' not in text:
        start_text, _, end_text = text.partition("..")
        try:
            base = Window(to_time(start_text, window.until), to_time(end_text or "now", window.until))
        except ConfigError:
            return None
        if base.since >= base.until:
            raise ConfigError(f"empty baseline window {spec!r}")
        return base
    if _is_duration(text):
        return window.shifted(parse_duration(text))
    return None
