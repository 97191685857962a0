"""Cost of one classify / scrub call for typical items (SPEC §3 target: below 2 µs per item).

Run: python tests/benchmarks/bench_classify.py [--repeat 7] [--number 50000]
Prints nanoseconds per call, the median over the repetitions (and the fastest one).
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable

from otel_events.classify import Classifier, Scrubber

HTTP_ATTRIBUTES = {
    "http.request.method": "GET",
    "http.route": "/api/users/{id}",
    "http.response.status_code": 200,
    "server.address": "checkout.internal",
    "url.scheme": "https",
    "user_agent.original": "Mozilla/5.0",
}


def classify_cases(clf: Classifier) -> list[tuple[str, Callable[[], object]]]:
    with_user = {**HTTP_ATTRIBUTES, "user.id": "u-42"}
    with_exception = {**HTTP_ATTRIBUTES, "exception.type": "ValueError"}
    explicit = {**HTTP_ATTRIBUTES, "otel_events.category": "debug"}
    event = {"event.name": "session_start", "session.id": "s-1"}
    return [
        ("classify: name memo hit, no attributes", lambda: clf.classify("cache.lookup")),
        ("classify: name memo hit + 6 attributes", lambda: clf.classify("cache.lookup", HTTP_ATTRIBUTES)),
        ("classify: attribute path, user.id (7 attrs)", lambda: clf.classify("GET /api/users/{id}", with_user)),
        ("classify: attribute path, exception.* (7 attrs)", lambda: clf.classify("GET /x", with_exception)),
        ("classify: default after 6 attributes", lambda: clf.classify("GET /api/users/{id}", HTTP_ATTRIBUTES)),
        ("classify: status error", lambda: clf.classify("GET /x", HTTP_ATTRIBUTES, status_error=True)),
        ("classify: log severity ERROR", lambda: clf.classify("db.query", None, severity_number=17)),
        ("classify: explicit category", lambda: clf.classify("GET /x", explicit)),
        ("classify: event.name attribute", lambda: clf.classify(None, event)),
    ]


def scrub_cases(scrubber: Scrubber) -> list[tuple[str, Callable[[], object]]]:
    counter = iter(range(10**9))
    secret = {**HTTP_ATTRIBUTES, "http.request.header.authorization": ["Bearer abcdefghijklmnop"]}
    text_secret = {**HTTP_ATTRIBUTES, "db.statement": "UPDATE users SET password='hunter2' WHERE id=7"}
    return [
        ("scrub_attributes: 6 clean attrs (memo hit)", lambda: scrubber.scrub_attributes(HTTP_ATTRIBUTES)),
        ("scrub_attributes: + sensitive key", lambda: scrubber.scrub_attributes(secret)),
        ("scrub_attributes: + secret inside text", lambda: scrubber.scrub_attributes(text_secret)),
        (
            "scrub_attributes: 6 attrs, 1 unique value (miss)",
            lambda: scrubber.scrub_attributes({**HTTP_ATTRIBUTES, "url.path": f"/api/users/{next(counter)}"}),
        ),
        ("scrub_body: clean log line (memo hit)", lambda: scrubber.scrub_body("user logged in from web")),
        (
            "scrub_body: unique 300-char text (no memo)",
            lambda: scrubber.scrub_body(f"request {next(counter)} " + "payload " * 37),
        ),
    ]


def measure(call: Callable[[], object], repeat: int, number: int) -> tuple[float, float]:
    call()  # warm the memos, as in a running process
    runs = [t / number * 1e9 for t in timeit.repeat(call, number=number, repeat=repeat)]
    return statistics.median(runs), min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=50_000)
    args = parser.parse_args()
    cases = classify_cases(Classifier()) + scrub_cases(Scrubber())
    width = max(len(name) for name, _ in cases)
    print(f"{'case':<{width}}  {'median ns':>10}  {'min ns':>8}")
    for name, call in cases:
        median, fastest = measure(call, args.repeat, args.number)
        print(f"{name:<{width}}  {median:>10.0f}  {fastest:>8.0f}")


if __name__ == "__main__":
    main()
