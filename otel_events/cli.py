"""The ``otel-events`` command: one entry point, one sub-command module per product part.

Each part registers its own sub-commands (``register(subparsers)``) and a handler returning the exit
code, so this module stays a thin dispatcher.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from otel_events.errors import OtelEventsError

# Modules that contribute sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES = (
    "otel_events.receiver.commands",
    "otel_events.store.commands",
    "otel_events.store.dead_letter_commands",
    "otel_events.analyze.commands",
    "otel_events.stream.tail_commands",
    "otel_events.stream.commands",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser from every command module that is present."""
    parser = argparse.ArgumentParser(
        prog="otel-events",
        description="Classified, sequenced, queryable event log for OpenTelemetry telemetry.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OtelEventsError as exc:
        print(f"otel-events: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
