"""Per-span and per-log cost of the SDK processors, side by side with the bare SDK.

Run: ``python tests/benchmarks/bench_sdk.py [--items 20000] [--repetitions 7]``

Each repetition times every variant once, in turn, in thread CPU time, so load from other processes on the
machine hardly moves the figures. The table shows the median over repetitions and the ratio to the bare SDK
path (a provider with one no-op processor: the dispatch any exporting set-up pays anyway) and to a provider
with no processor at all.
Target (issue 2): EventSpanProcessor ≤ 1.10 x the bare per-span cost.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

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


def span_workload(processor: SpanProcessor | None, items: int, current: bool) -> Callable[[], float]:
    """``current``: ``with tracer.start_as_current_span(...)`` (how apps and ``traced_event`` trace);
    otherwise the minimal ``tracer.start_span(...).end()``."""
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

    return run_current if current else run_minimal


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


def measure(variants: dict[str, Callable[[], float]], repetitions: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():
        run()  # warm up memos, caches and the allocator
    for _ in range(repetitions):
        for name, run in variants.items():
            gc.collect()
            samples[name].append(run())
    return {name: statistics.median(values) for name, values in samples.items()}


def print_table(title: str, medians: dict[str, float], bare: str | None, none: str | None) -> None:
    print(f"\n{title}")
    header = f"{'variant':<44} {'µs/item':>9}"
    header += f" {'x bare':>8}" if bare else ""
    header += f" {'x none':>8}" if none else ""
    print(header)
    print("-" * len(header))
    for name, value in medians.items():
        line = f"{name:<44} {value:>9.2f}"
        if bare:
            line += f" {value / medians[bare]:>8.3f}"
        if none:
            line += f" {value / medians[none]:>8.3f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3_000, help="items per variant per repetition")
    parser.add_argument("--repetitions", type=int, default=25)
    args = parser.parse_args()
    items, reps = args.items, args.repetitions

    span_variants: dict[str, dict[str, Callable[[], float]]] = {}
    for current, label in ((True, "with start_as_current_span"), (False, "start_span().end()")):
        span_variants[label] = {
            "no processor": span_workload(None, items, current),
            "no-op processor (bare SDK path)": span_workload(NoOpSpanProcessor(), items, current),
            "EventSpanProcessor (private hook)": span_workload(
                EventSpanProcessor(NoOpSpanProcessor(), meter_provider=_meter_provider(), use_private_hook=True),
                items,
                current,
            ),
            "EventSpanProcessor (public-API fallback)": span_workload(
                EventSpanProcessor(NoOpSpanProcessor(), meter_provider=_meter_provider(), use_private_hook=False),
                items,
                current,
            ),
        }
    log_variants = {
        "no processor": log_workload(None, items),
        "no-op processor (bare SDK path)": log_workload(NoOpLogProcessor(), items),
        "EventLogProcessor": log_workload(
            EventLogProcessor(NoOpLogProcessor(), meter_provider=_meter_provider()), items
        ),
    }
    count_variants = {
        "local table (used)": counting_workload("local table (used)", items),
        "Counter.add with attributes": counting_workload("Counter.add", items),
    }
    print(f"{items} items per variant, median of {reps} repetitions; spans carry 2 attributes, names rotate over 4")
    ratios = {}
    for label, variants in span_variants.items():
        spans = measure(variants, reps)
        print_table(f"Spans ({label})", spans, "no-op processor (bare SDK path)", "no processor")
        ratios[label] = spans["EventSpanProcessor (private hook)"] / spans["no-op processor (bare SDK path)"]
    logs = measure(log_variants, reps)
    print_table("Log records", logs, "no-op processor (bare SDK path)", "no processor")
    counting = measure(count_variants, reps)
    print_table("Counting one decision for the classification metric", counting, None, None)
    print()
    for label, ratio in ratios.items():
        print(f"EventSpanProcessor per-span ratio over the bare SDK path ({label}): {ratio:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
