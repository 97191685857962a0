"""Per-span and per-log cost of the SDK processors, side by side with the bare SDK.

Run: ``python tests/benchmarks/bench_sdk.py [--items 3000] [--repetitions 31]``

How it measures, so that one number can be trusted on a machine shared with other work:

- Every variant is a real provider; the bare SDK path is a provider with one no-op processor, and the
  processors under test wrap the same no-op processor, so both pay the same dispatch and downstream cost.
- Each repetition runs every variant once, in a shuffled order (fixed seed), in thread CPU time: load from
  other processes hardly moves CPU time, and drift within a repetition hits all variants alike.
- The ratio is computed per repetition (variant / bare SDK path of the same repetition) and the table
  shows the median of those paired ratios with their interquartile range, plus the median added µs.

Target (issue 2): EventSpanProcessor ≤ 1.10 x the bare SDK path per span.

``--instructions`` counts instructions instead (needs valgrind; ~2 minutes): each workload runs in its own
process under ``valgrind --tool=cachegrind`` with 1,000 and 3,000 items, and the difference per item is
reported. Ratios repeat within ~0.5 % whatever else the machine does (random span ids and addresses
move the counts a little), so they settle differences that CPU time on a shared machine cannot; they do not
see cache misses, which CPU time does.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from opentelemetry import baggage, context
from opentelemetry import metrics as metrics_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from otel_events.sdk import EventLogProcessor, EventSpanProcessor
from otel_events.sdk.metrics import ClassificationCounts

SPAN_NAMES = ("checkout", "cache.lookup", "health_check", "user.login")
ATTRIBUTES = {"http.route": "/cart", "http.status_code": 200}
BARE = "no-op processor (bare SDK path)"
SEED = 2


class NoOpSpanProcessor(SpanProcessor):
    """Downstream stand-in that drops spans, so only the processor chain itself is measured."""

    def on_end(self, span: ReadableSpan) -> None:
        pass


class NoOpLogProcessor(LogRecordProcessor):
    """Downstream stand-in that drops records."""

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _meter_provider() -> MeterProvider:
    return MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)


def span_workload(processor: SpanProcessor | None, items: int, style: str) -> Callable[[], float]:
    """Time ``items`` spans; ``style`` is ``current`` (``with start_as_current_span``, how apps and
    ``traced_event`` trace), ``minimal`` (``start_span().end()``) or ``baggage`` (``current`` under a
    correlation id in the W3C baggage)."""
    provider = TracerProvider(shutdown_on_exit=False, meter_provider=metrics_api.NoOpMeterProvider())
    if processor is not None:
        provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    names = [SPAN_NAMES[i % len(SPAN_NAMES)] for i in range(items)]

    def run_current() -> float:
        start = time.thread_time_ns()
        for name in names:
            with tracer.start_as_current_span(name, attributes=ATTRIBUTES):
                pass
        return (time.thread_time_ns() - start) / items / 1000

    def run_minimal() -> float:
        start = time.thread_time_ns()
        for name in names:
            tracer.start_span(name, attributes=ATTRIBUTES).end()
        return (time.thread_time_ns() - start) / items / 1000

    def run_baggage() -> float:
        token = context.attach(baggage.set_baggage("correlation.id", "order-1234"))
        try:
            return run_current()
        finally:
            context.detach(token)

    return {"current": run_current, "minimal": run_minimal, "baggage": run_baggage}[style]


def log_workload(processor: LogRecordProcessor | None, items: int) -> Callable[[], float]:
    provider = LoggerProvider(shutdown_on_exit=False, meter_provider=metrics_api.NoOpMeterProvider())
    if processor is not None:
        provider.add_log_record_processor(processor)
    logger = provider.get_logger("bench")
    names = [SPAN_NAMES[i % len(SPAN_NAMES)] for i in range(items)]

    def run() -> float:
        start = time.thread_time_ns()
        for name in names:
            logger.emit(event_name=name, attributes=ATTRIBUTES, body="hello", severity_number=SeverityNumber.INFO)
        return (time.thread_time_ns() - start) / items / 1000

    return run


def counting_workload(kind: str, items: int) -> Callable[[], float]:
    if kind == "local table (used)":
        counts = ClassificationCounts("span", lambda: 0)

        def count() -> None:
            counts.add("system", "default")
    else:
        counter = _meter_provider().get_meter("bench").create_counter("bench.classified")
        attributes = {"category": "system", "rule": "default", "signal": "span"}

        def count() -> None:
            counter.add(1, attributes)

    def run() -> float:
        start = time.thread_time_ns()
        for _ in range(items):
            count()
        return (time.thread_time_ns() - start) / items / 1000

    return run


@dataclass(frozen=True)
class Row:
    """One variant's figures: median µs per item and, against the bare path, paired ratios and added µs."""

    name: str
    micros: float
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    added: float | None = None


def measure(variants: dict[str, Callable[[], float]], repetitions: int, bare: str | None) -> list[Row]:
    """Run every variant once per repetition in a shuffled order; pair each sample with the bare sample."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():
        run()  # warm up memos, caches and the allocator
    order = list(variants)
    rng = random.Random(SEED)
    for _ in range(repetitions):
        rng.shuffle(order)
        for name in order:
            gc.collect()
            samples[name].append(variants[name]())
    rows = []
    for name, values in samples.items():
        if bare is None:
            rows.append(Row(name, statistics.median(values)))
            continue
        ratios = [value / base for value, base in zip(values, samples[bare], strict=True)]
        low, _, high = statistics.quantiles(ratios, n=4)
        added = statistics.median(value - base for value, base in zip(values, samples[bare], strict=True))
        rows.append(Row(name, statistics.median(values), statistics.median(ratios), low, high, added))
    return rows


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    paired = rows[0].ratio is not None
    header = f"{'variant':<44} {'µs/item':>8}"
    if paired:
        header += f" {'added µs':>9} {'x bare':>7} {'IQR of x bare':>15}"
    print(header)
    print("-" * len(header))
    for row in rows:
        line = f"{row.name:<44} {row.micros:>8.2f}"
        if paired:
            line += f" {row.added:>9.2f} {row.ratio:>7.3f} {row.ratio_low:>7.3f}-{row.ratio_high:.3f}"
        print(line)


def span_variants(items: int, style: str) -> dict[str, Callable[[], float]]:
    def event_processor(private: bool, baggage_correlation: bool = True) -> EventSpanProcessor:
        return EventSpanProcessor(
            NoOpSpanProcessor(),
            meter_provider=_meter_provider(),
            use_private_hook=private,
            baggage_correlation=baggage_correlation,
        )

    return {
        "no processor": span_workload(None, items, style),
        BARE: span_workload(NoOpSpanProcessor(), items, style),
        "EventSpanProcessor (private hook)": span_workload(event_processor(True), items, style),
        "  same, baggage_correlation=False": span_workload(event_processor(True, False), items, style),
        "EventSpanProcessor (public-API fallback)": span_workload(event_processor(False), items, style),
    }


INSTRUCTION_WORKLOADS = (
    ("spans, start_as_current_span", "current"),
    ("spans, start_span().end()", "minimal"),
    ("spans under a baggage correlation id", "baggage"),
    ("log records", "log"),
)
_I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def run_once(workload: str, processor: str, items: int) -> None:
    """One workload in this process (the unit ``--instructions`` counts); ``processor`` is bare or event."""
    event = processor == "event"
    if workload == "log":
        log_processor = EventLogProcessor(NoOpLogProcessor(), meter_provider=_meter_provider()) if event else None
        log_workload(log_processor or NoOpLogProcessor(), items)()
        return
    span_processor = (
        EventSpanProcessor(NoOpSpanProcessor(), meter_provider=_meter_provider(), use_private_hook=True)
        if event
        else NoOpSpanProcessor()
    )
    span_workload(span_processor, items, workload)()


def count_instructions(workload: str, processor: str, items: int) -> int:
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--run-once",
        workload,
        processor,
        str(items),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same hash layout, so the same work, in every run
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    match = _I_REFS.search(result.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{result.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def print_instructions() -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind on the PATH")
    small, large = 1_000, 3_000
    print(f"Instructions per item (cachegrind; {large} minus {small} items, so start-up cancels out)")
    header = f"{'workload':<40} {'bare SDK path':>14} {'with processor':>15} {'x bare':>7}"
    print(header)
    print("-" * len(header))
    runs = [(w, p, n) for _, w in INSTRUCTION_WORKLOADS for p in ("bare", "event") for n in (small, large)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # two valgrind processes: the machine's two cores
        counts = dict(zip(runs, pool.map(lambda run: count_instructions(*run), runs), strict=True))
    for label, workload in INSTRUCTION_WORKLOADS:
        bare, event = (
            (counts[workload, processor, large] - counts[workload, processor, small]) / (large - small)
            for processor in ("bare", "event")
        )
        print(f"{label:<40} {bare:>14,.0f} {event:>15,.0f} {event / bare:>7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3_000, help="items per variant per repetition")
    parser.add_argument("--repetitions", type=int, default=31)
    parser.add_argument("--instructions", action="store_true", help="count instructions under valgrind instead")
    parser.add_argument("--run-once", nargs=3, metavar=("WORKLOAD", "PROCESSOR", "ITEMS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_once:
        workload, processor, count = args.run_once
        run_once(workload, processor, int(count))
        return
    if args.instructions:
        print_instructions()
        return
    items, reps = args.items, args.repetitions

    print(
        f"{items} items per variant per repetition, {reps} repetitions in shuffled order, thread CPU time; "
        f"spans and records carry 2 attributes, names rotate over {len(SPAN_NAMES)}"
    )
    ratios = {}
    for style, label in (
        ("current", "with start_as_current_span"),
        ("minimal", "start_span().end()"),
        ("baggage", "with start_as_current_span under a baggage correlation id"),
    ):
        rows = measure(span_variants(items, style), reps, BARE)
        print_table(f"Spans ({label})", rows)
        ratios[label] = next(row for row in rows if row.name == "EventSpanProcessor (private hook)")
    log_variants = {
        "no processor": log_workload(None, items),
        BARE: log_workload(NoOpLogProcessor(), items),
        "EventLogProcessor": log_workload(
            EventLogProcessor(NoOpLogProcessor(), meter_provider=_meter_provider()), items
        ),
    }
    logs = measure(log_variants, reps, BARE)
    print_table("Log records", logs)
    count_variants = {
        "local table (used)": counting_workload("local table (used)", items),
        "Counter.add with attributes": counting_workload("Counter.add", items),
    }
    print_table("Counting one decision for the classification metric", measure(count_variants, reps, None))
    print()
    for label, row in ratios.items():
        print(f"EventSpanProcessor per span over the bare SDK path ({label}): {row.ratio:.3f} (target <= 1.10)")
    log_row = next(row for row in logs if row.name == "EventLogProcessor")
    print(f"EventLogProcessor per record over the bare SDK path: {log_row.ratio:.3f}")


if __name__ == "__main__":
    main()
