"""A named analysis as a call with JSON parameters: what ``otel-events analyze NAME`` sends to a receiver.

The parameters are the analysis options by their command-line names (``threshold_ms`` for ``--threshold-ms``).
The receiver runs the same handler as the command line does, on its own connection, so remote output equals
local output.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass

from otel_events.analyze.commands import ANALYSES
from otel_events.analyze.source import Source
from otel_events.errors import ConfigError

# Option -> accepted JSON type; anything else is refused before an analysis runs.
PARAMETER_TYPES: dict[str, type | tuple[type, ...]] = {
    "since": str,
    "until": str,
    "filter": str,
    "limit": int,
    "threshold_ms": (int, float),
    "trace_id": str,
    "correlation_id": str,
    "by": str,
    "spans": bool,
    "baseline": str,
    "sensitivity": (int, float),
    "bucket": str,
    "metrics": bool,
    "fail_on": list,
    "format": str,
}


@dataclass(frozen=True)
class AnalysisOutcome:
    """What an analysis produced.

    Attributes:
        result: rows, sections or text, as the command line renders them.
        gate_failures: ``compare``: the crossed ``--fail-on`` thresholds.
    """

    result: object
    gate_failures: tuple[str, ...] = ()


def parameters_of(args: argparse.Namespace) -> dict[str, object]:
    """The analysis parameters in parsed command-line arguments (unset ones left out)."""
    return {name: value for name, value in vars(args).items() if name in PARAMETER_TYPES and value is not None}


def run_analysis(source: Source, name: str, parameters_json: str) -> AnalysisOutcome:
    """Run analysis ``name`` with JSON parameters on ``source``.

    Raises:
        ConfigError: for an unknown analysis or a bad parameter.
        OtelEventsError: whatever the analysis raises for bad input (filter syntax, unknown trace, ...).
    """
    entry = ANALYSES.get(name)
    if entry is None:
        raise ConfigError(f"unknown analysis {name!r}; known: {', '.join(ANALYSES)}")
    args = argparse.Namespace(**dict.fromkeys(PARAMETER_TYPES), analysis=name, gate_failures=[])
    for key, value in _parse(parameters_json).items():
        setattr(args, key, value)
    if args.limit is None:
        args.limit = entry[2]
    result = entry[1](args, source)
    return AnalysisOutcome(result, tuple(args.gate_failures))


def _parse(parameters_json: str) -> Mapping[str, object]:
    try:
        parameters = json.loads(parameters_json) if parameters_json.strip() else {}
    except ValueError as exc:
        raise ConfigError(f"analysis parameters are not valid JSON: {exc}") from None
    if not isinstance(parameters, dict):
        raise ConfigError("analysis parameters must be a JSON object")
    for key, value in parameters.items():
        expected = PARAMETER_TYPES.get(key)
        if expected is None:
            raise ConfigError(f"unknown analysis parameter {key!r}; known: {', '.join(PARAMETER_TYPES)}")
        if value is None:
            continue
        if (isinstance(value, bool) and expected is not bool) or not isinstance(value, expected):
            raise ConfigError(f"analysis parameter {key!r} has the wrong type ({type(value).__name__})")
        if key == "limit" and value <= 0:
            raise ConfigError(f"analysis parameter 'limit' must be positive, got {value}")
        if key == "fail_on" and not all(isinstance(item, str) for item in value):
            raise ConfigError("analysis parameter 'fail_on' must be a list of strings")
    return parameters
