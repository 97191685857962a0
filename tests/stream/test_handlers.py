"""Handlers against a local HTTP server that fails, hangs and recovers; Python entry points; rule parsing."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from otel_events.errors import ConfigError
from otel_events.store import IngestItem, Store
from otel_events.stream.backoff import Backoff
from otel_events.stream.breaker import BreakerSettings, BreakerState
from otel_events.stream.handlers import HandlerAction, HandlerRule, HandlerRunner, parse_handler_rules
from tests.receiver.otlp_requests import make_span, trace_request
from tests.support import wait_until

RECEIVED: list[Mapping[str, object]] = []


def record(item: Mapping[str, object]) -> None:
    """A Python handler entry point used by the tests."""
    RECEIVED.append(item)


class _Hook(http.server.BaseHTTPRequestHandler):
    mode = "ok"  # ok | fail | hang
    hits = 0
    bodies: list[dict] = []

    def do_POST(self) -> None:
        cls = type(self)
        cls.hits += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if cls.mode == "hang":
            time.sleep(1.0)
        status = 500 if cls.mode == "fail" else 200
        if status == 200:
            cls.bodies.append(json.loads(body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"mode": "ok", "hits": 0, "bodies": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "h.duckdb") as opened:
        yield opened


def _ingest(store: Store, names: list[str]) -> None:
    payload = trace_request([make_span(name) for name in names], "checkout").SerializeToString()
    store.ingest([IngestItem(signal="traces", payload=payload)])


def _rule(url: str, **overrides: object) -> HandlerRule:
    fields: dict[str, object] = {
        "name": "alerts",
        "filter": "category = 'critical'",
        "action": HandlerAction.WEBHOOK,
        "url": url,
        "timeout": 0.3,
        "backoff": Backoff(initial=0.01, maximum=0.02, max_attempts=2),
        "breaker": BreakerSettings(failure_threshold=3, cooldown=0.3),
        **overrides,
    }
    return HandlerRule(**fields).validate()  # type: ignore[arg-type]


def test_webhook_gets_matching_items_as_json(store: Store, hook) -> None:
    url, server = hook
    _ingest(store, ["error"])  # stored before the runner started: not handled
    runner = HandlerRunner(store.connection.cursor, [_rule(url)], poll_interval=0.05)
    runner.start()
    try:
        _ingest(store, ["failure", "stats", "health_check"])
        wait_until(lambda: runner.stats()["alerts"]["delivered"] == 2)
    finally:
        runner.stop()
    names = sorted(body["item"]["name"] for body in server.bodies)
    assert names == ["failure", "health_check"]
    body = server.bodies[0]
    item = body["item"]
    assert (body["kind"], body["handler"], item["category"], item["service_name"]) == (
        "span",
        "alerts",
        "critical",
        "checkout",
    )
    assert isinstance(item["start_time"], str) and item["attributes"] == {} and item["kind"] == "server"


def test_failing_webhook_opens_the_breaker_then_recovers(store: Store, hook) -> None:
    url, server = hook
    server.mode = "fail"
    # A cool-down long enough that no half-open trial can start before the open state is checked.
    rule = _rule(url, breaker=BreakerSettings(failure_threshold=3, cooldown=1.0))
    runner = HandlerRunner(store.connection.cursor, [rule], poll_interval=3600)
    runner.start()
    try:
        _ingest(store, ["failure", "error"])
        assert runner.poll_once() == 2
        # The first item's two failed attempts count as one failed delivery; the breaker opens on the
        # second item's first attempt, a moment later.
        wait_until(lambda: runner.stats()["alerts"]["breaker_opened"] == 1)
        stats = runner.stats()["alerts"]
        assert stats["failed"] == 1
        # Two items, two attempts each: the third failed attempt opened the breaker; the second item waits.
        assert stats["state"] == "open" and stats["breaker_opened"] == 1
        hits_while_open = server.hits
        assert hits_while_open == 3
        server.mode = "ok"
        wait_until(lambda: runner.stats()["alerts"]["delivered"] == 1)  # the half-open trial succeeded
        assert runner.stats()["alerts"]["state"] == BreakerState.CLOSED.value
        _ingest(store, ["failure"])
        runner.poll_once()
        wait_until(lambda: runner.stats()["alerts"]["delivered"] == 2)
    finally:
        runner.stop()
    assert runner.stats()["alerts"]["failed"] == 1


def test_hanging_webhook_times_out_and_never_blocks_the_poller(store: Store, hook) -> None:
    url, server = hook
    server.mode = "hang"
    rule = _rule(url, queue_size=5, filter="name LIKE 'work*'")
    runner = HandlerRunner(store.connection.cursor, [rule], poll_interval=3600)
    runner.start()
    try:
        _ingest(store, [f"work{i}" for i in range(100)])
        assert runner.poll_once() == 100  # returns at once: the queue is bounded, the rest is dropped
        stats = runner.stats()["alerts"]
        assert stats["dropped"] >= 94 and stats["queued"] <= 5
        wait_until(lambda: runner.stats()["alerts"]["retries"] >= 1, timeout=10)
    finally:
        runner.stop(timeout=2)
    assert runner.stats()["alerts"]["delivered"] == 0


def test_python_entry_point_handler(store: Store) -> None:
    RECEIVED.clear()
    rule = HandlerRule(
        name="py", filter="name = 'stats'", action=HandlerAction.PYTHON, entry_point=f"{__name__}:record"
    ).validate()
    runner = HandlerRunner(store.connection.cursor, [rule], poll_interval=0.05)
    runner.start()
    try:
        _ingest(store, ["stats", "error", "stats"])
        wait_until(lambda: runner.stats()["py"]["delivered"] == 2)
    finally:
        runner.stop()
    assert [item["item"]["name"] for item in RECEIVED] == ["stats", "stats"]


def test_parse_handler_rules_from_config_tables() -> None:
    rules = parse_handler_rules(
        [
            {"filter": "category = 'critical'", "action": "webhook", "url": "http://127.0.0.1:9/x"},
            {
                "name": "py",
                "filter": "body CONTAINS 'x'",
                "action": "python",
                "entry_point": "a.b:c",
                "kinds": ["logs"],
            },
        ],
        "config file r.toml",
    )
    assert [r.name for r in rules] == ["handler-1", "py"] and rules[1].kinds == ("logs",)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"filter": "x = 1", "action": "email"}, 'action must be "webhook" or "python"'),
        ({"filter": "category = 'nope'", "action": "webhook", "url": "http://h/"}, "invalid filter"),
        ({"filter": "category = 'critical'", "action": "webhook", "url": "ftp://h/"}, "webhook needs url"),
        ({"filter": "category = 'critical'", "action": "python"}, "module:function"),
        ({"filter": "TRUE", "action": "python", "entry_point": "m:f", "colour": 1}, "unknown key"),
        ({"filter": "name = 'a'", "action": "python", "entry_point": "m:f", "failure_threshold": 0}, "threshold"),
    ],
)
def test_bad_handler_rules_are_refused(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_handler_rules([table], "config file r.toml")


def test_unloadable_entry_point_is_a_config_error(store: Store) -> None:
    rule = HandlerRule(name="py", filter="name = 'a'", action=HandlerAction.PYTHON, entry_point="no.such:thing")
    with pytest.raises(ConfigError, match="cannot load handler entry point"):
        HandlerRunner(store.connection.cursor, [rule.validate()])
