"""Command-line option helpers shared by the sub-commands that read a store: where it is, positive counts."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from otel_events.receiver.environment import OTEL_EVENTS_DB

DEFAULT_DB = Path("otel_events.duckdb")
"""The store used when neither ``--db`` nor ``$OTEL_EVENTS_DB`` names one (the receiver's default too)."""

DB_DEFAULT_HELP = f"default ${OTEL_EVENTS_DB} or ./{DEFAULT_DB}"
"""How ``--db`` help texts name the default, so every sub-command words it alike."""


def db_path(db: Path | None) -> Path:
    """The store to use: ``--db`` > ``$OTEL_EVENTS_DB`` > ``./otel_events.duckdb``.

    Args:
        db: The ``--db`` argument, or None when it was not given.

    Returns:
        The path of the DuckDB file.
    """
    return db or Path(os.environ.get(OTEL_EVENTS_DB) or DEFAULT_DB)


def positive_int(text: str) -> int:
    """An argparse ``type=`` accepting integers above zero.

    Args:
        text: The argument as typed.

    Returns:
        The integer.

    Raises:
        argparse.ArgumentTypeError: if ``text`` is not a positive integer.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value
