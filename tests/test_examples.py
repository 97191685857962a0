"""The sample service runs to completion against an in-test OTLP/gRPC collector and arrives classified."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.sdk.otlp_sink import attributes, running_sink

ROOT = Path(__file__).resolve().parent.parent


def test_sample_service_exports_classified_telemetry() -> None:
    with running_sink() as sink:
        result = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "sample_service.py"),
                "--endpoint",
                sink.endpoint,
                "--iterations",
                "11",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        spans = sink.spans()
        logs = sink.log_records()

    span_attrs = [attributes(span.attributes) for span in spans]
    log_attrs = [attributes(record.attributes) for record in logs]
    everything = span_attrs + log_attrs
    assert all("otel_events.category" in a and "otel_events.seq" in a for a in everything)
    seqs = sorted(a["otel_events.seq"] for a in everything)
    assert seqs == list(range(1, len(seqs) + 1))  # one fresh stream, nothing lost on the way
    assert len({a["otel_events.stream_id"] for a in everything}) == 1

    by_name = Counter(span.name for span in spans)
    assert by_name["checkout.pay"] == 11 and by_name["report.generate"] == 2
    categories = {(span.name, a["otel_events.category"]) for span, a in zip(spans, span_attrs, strict=True)}
    assert ("catalog.cache_lookup", "performance") in categories
    assert ("checkout.pay", "critical") in categories  # the declined payments (error path)
    assert ("checkout.pay", "system") in categories
    correlation_ids = {a.get("otel_events.correlation_id") for a in everything}
    assert {"visit-00000", "visit-00010"} <= correlation_ids
    event_names = {record.event_name for record in logs}
    assert {"session_start", "session_end", "cart.add.start", "checkout.pay.error", "latency"} <= event_names
    declined = [a for r, a in zip(logs, log_attrs, strict=True) if "payment declined" in r.body.string_value]
    assert len(declined) == 2  # visits 4 and 9, bridged from stdlib logging
    assert {a["otel_events.category"] for a in declined} == {"critical"}
