"""Named patterns the scrubber looks for: sensitive attribute keys and sensitive values inside text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from otel_events.errors import ConfigError

SECRET_GROUP = "secret"
"""A value pattern with a group of this name replaces only that group (``password=[scrubbed: password]``)."""


class PatternTarget(StrEnum):
    """What a pattern is matched against."""

    KEY = "key"
    """The attribute (or body map) key; the whole value is replaced. Matched case-insensitively."""
    VALUE = "value"
    """Any string value; the matching text is replaced."""


@dataclass(frozen=True, slots=True)
class ScrubPattern:
    """One named pattern.

    Attributes:
        name: Shown in the replacement text ``[scrubbed: <name>]``.
        regex: Regular expression, searched in the key or the value text. Value patterns may not use
            backreferences (they are combined into one alternation); a group named ``secret`` limits the
            replacement to that group.
        target: Whether the pattern looks at keys or at values.
        validate: Optional check of the matched text (e.g. the Luhn checksum of a card number); a match
            it rejects is left alone.
    """

    name: str
    regex: str
    target: PatternTarget = PatternTarget.VALUE
    validate: Callable[[str], bool] | None = None


def luhn_valid(text: str) -> bool:
    """True when the digits of ``text`` (13 to 19 of them) pass the Luhn checksum of card numbers."""
    digits = [ord(c) - 48 for c in text if "0" <= c <= "9"]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


# Keys are normalised before matching (camelCase split with "_", lower-cased), so `apiKey` reads `api_key`.
# The look-arounds make each word whole: `max_tokens` or `author` are not secrets.
_W = r"(?<![a-z0-9])"
_E = r"(?![a-z0-9])"
DEFAULT_KEY_PATTERNS: tuple[ScrubPattern, ...] = tuple(
    ScrubPattern(name, regex, PatternTarget.KEY)
    for name, regex in (
        ("password", rf"{_W}(?:passw(?:or)?d|passphrase|pwd){_E}"),
        ("session_secret", rf"{_W}session[_.-]?(?:secret|key){_E}"),
        ("secret", rf"{_W}(?:secrets?|secret[_.-]?key){_E}"),
        ("api_key", rf"{_W}api[_.-]?key{_E}"),
        ("private_key", rf"{_W}private[_.-]?key{_E}"),
        ("token", rf"{_W}(?:access|refresh|id|auth|csrf|xsrf|session|bearer|api)?token{_E}"),
        ("auth", rf"{_W}(?:proxy[_.-])?auth(?:orization)?{_E}"),
        ("cookie", rf"{_W}(?:set[_.-])?cookies?{_E}"),
        ("credentials", rf"{_W}credentials?{_E}"),
    )
)

# Card numbers: a known issuer prefix, 13-19 digits with optional single spaces or dashes, then Luhn.
_CARD_ISSUER = r"(?:4\d{3}|5[1-5]\d\d|2[2-7]\d\d|3[47]\d\d|3[0689]\d\d|6(?:011|5\d\d|4[4-9]\d))"
_CARD = rf"(?<![\d-]){_CARD_ISSUER}(?:[ -]?\d){{9,15}}(?![\d-])"
DEFAULT_VALUE_PATTERNS: tuple[ScrubPattern, ...] = (
    ScrubPattern("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    ScrubPattern("bearer_token", r"(?i:\bbearer\s+)(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)"),
    ScrubPattern("password", r"(?i:passw(?:or)?d|passphrase|pwd)[\"']?\s*[:=]\s*[\"']?(?P<secret>[^\s\"'&,;]+)"),
    ScrubPattern("secret", r"(?i:secret|token|api[_-]?key)[\"']?\s*[:=]\s*[\"']?(?P<secret>[^\s\"'&,;]+)"),
    ScrubPattern("password", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:(?P<secret>[^/\s@]+)@"),
    ScrubPattern("credit_card", _CARD, validate=luhn_valid),
    ScrubPattern("ssn", r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
)

_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")
_BACKREFERENCE = re.compile(r"\(\?P=|\\[1-9]|\\g<")


def compile_pattern(pattern: ScrubPattern) -> re.Pattern[str]:
    """Compile one pattern on its own (key patterns ignore case).

    Raises:
        ConfigError: if the regex is invalid.
    """
    flags = re.IGNORECASE if pattern.target is PatternTarget.KEY else 0
    try:
        return re.compile(pattern.regex, flags)
    except re.error as exc:
        raise ConfigError(f"bad regex {pattern.regex!r} for scrub pattern '{pattern.name}': {exc}") from None


def combine_value_patterns(patterns: tuple[ScrubPattern, ...]) -> re.Pattern[str] | None:
    """One alternation of all value patterns: group ``_p<i>`` is the i-th pattern, so ``lastgroup`` names it.

    Leading global flags become scoped flags and named groups become plain groups, so independent patterns
    can share one regex. Returns None when there are no patterns.

    Raises:
        ConfigError: if a pattern uses backreferences or the alternation cannot be compiled.
    """
    if not patterns:
        return None
    parts = []
    for index, pattern in enumerate(patterns):
        if _BACKREFERENCE.search(pattern.regex):
            raise ConfigError(f"scrub pattern '{pattern.name}' uses a backreference, which value patterns cannot")
        body = _NAMED_GROUP.sub("(?:", pattern.regex)
        flags = _GLOBAL_FLAGS.match(body)
        if flags:
            body = f"(?{flags.group(1)}:{body[flags.end() :]})"
        parts.append(f"(?P<_p{index}>{body})")
    try:
        return re.compile("|".join(parts))
    except re.error as exc:
        raise ConfigError(f"scrub value patterns cannot be combined: {exc}") from None
