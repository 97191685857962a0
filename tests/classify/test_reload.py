"""Reloading rules: explicit reload, the file watcher, and atomic swaps under concurrent classification."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from otel_events.classify import Category, Classifier, Decision
from otel_events.errors import RulesError
from tests.support import wait_until

C = Category
RULES_A = '[names]\ncheckout = "critical"\n'
RULES_B = 'default_category = "debug"\n[names]\ncheckout = "performance"\n'
BROKEN = '[names]\ncheckout = "urgent"  # unknown category\n'


def replace_file(path: Path, text: str) -> None:
    """Update a watched file the safe way: write a sibling, then rename it over the original."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(RULES_A, encoding="utf-8")
    return path


def test_reload_swaps_rules_and_forgets_memoized_names(rules_file: Path) -> None:
    clf = Classifier.from_file(rules_file)
    assert clf.classify("checkout") == Decision(C.CRITICAL, "name.exact")  # now memoized
    rules_file.write_text(RULES_B, encoding="utf-8")
    rules = clf.reload()
    assert rules.names["checkout"] is C.PERFORMANCE
    assert clf.classify("checkout") == Decision(C.PERFORMANCE, "name.exact")
    assert clf.classify("GET /x") == Decision(C.DEBUG, "default")


def test_failed_reload_raises_and_keeps_old_rules(rules_file: Path) -> None:
    clf = Classifier.from_file(rules_file)
    rules_file.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(RulesError, match=r"rules\.toml:2: unknown category 'urgent'"):
        clf.reload()
    assert clf.classify("checkout") == Decision(C.CRITICAL, "name.exact")


def test_reload_without_file_reloads_defaults() -> None:
    clf = Classifier()
    assert clf.reload().names["error"] is C.CRITICAL
    assert clf.classify("error") == Decision(C.CRITICAL, "name.exact")


ALLOWED = {
    "checkout": {Decision(C.CRITICAL, "name.exact"), Decision(C.PERFORMANCE, "name.exact")},
    "GET /x": {Decision(C.SYSTEM, "default"), Decision(C.DEBUG, "default")},
}


def classify_while(clf: Classifier, swap_rules: Callable[[], None]) -> set[tuple[str, Decision]]:
    """Run `swap_rules` while 3 threads classify continuously; return every (name, decision) they saw."""
    stop = threading.Event()
    seen: list[set[tuple[str, Decision]]] = []
    errors: list[BaseException] = []
    counts: list[int] = []

    def classify_loop() -> None:
        local: set[tuple[str, Decision]] = set()
        n = 0
        try:
            while not stop.is_set() and n < 2_000_000:
                for name in ALLOWED:
                    local.add((name, clf.classify(name, {"http.method": "GET", "user.name": "x"})))
                n += 1
        except BaseException as exc:  # recorded and asserted below
            errors.append(exc)
        seen.append(local)
        counts.append(n)

    threads = [threading.Thread(target=classify_loop) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        swap_rules()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert all(n > 0 for n in counts)
    observed = set().union(*seen)
    for name, decision in observed:
        assert decision in ALLOWED[name], (name, decision)
    return observed


def test_concurrent_classify_during_reloads_sees_old_or_new_rules(rules_file: Path) -> None:
    clf = Classifier.from_file(rules_file)

    def swap_rules() -> None:
        for i in range(20):
            rules_file.write_text(RULES_B if i % 2 == 0 else RULES_A, encoding="utf-8")
            clf.reload()
            time.sleep(0.001)  # let the readers run between swaps

    observed = classify_while(clf, swap_rules)
    # Both rule sets were actually observed by the readers.
    assert {d for name, d in observed if name == "checkout"} == ALLOWED["checkout"]


def test_concurrent_classify_during_watched_reloads(rules_file: Path) -> None:
    with Classifier.from_file(rules_file, watch=True, poll_interval=0.005) as clf:

        def swap_rules() -> None:
            for i in range(4):
                rules_text, expected = (RULES_B, C.PERFORMANCE) if i % 2 == 0 else (RULES_A + "#\n", C.CRITICAL)
                replace_file(rules_file, rules_text)
                wait_until(lambda expected=expected: clf.classify("checkout").category is expected)

        observed = classify_while(clf, swap_rules)
    assert {d for name, d in observed if name == "checkout"} == ALLOWED["checkout"]


def test_watch_reloads_on_change_and_logs_a_bad_file_once(rules_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="otel_events.classify")
    clf = Classifier.from_file(rules_file, watch=True, poll_interval=0.01)
    try:
        assert clf.classify("checkout").category is C.CRITICAL
        replace_file(rules_file, RULES_B)
        wait_until(lambda: clf.classify("checkout").category is C.PERFORMANCE)

        replace_file(rules_file, BROKEN)

        def errors() -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.levelno == logging.ERROR]

        wait_until(lambda: len(errors()) == 1)
        time.sleep(0.2)  # many more polls of the unchanged broken file
        assert len(errors()) == 1
        assert "keeping the previous classification rules" in errors()[0].getMessage()
        assert "unknown category 'urgent'" in errors()[0].getMessage()
        assert clf.classify("checkout").category is C.PERFORMANCE  # old rules kept

        rules_file.write_text(RULES_A + "# fixed\n", encoding="utf-8")
        wait_until(lambda: clf.classify("checkout").category is C.CRITICAL)
        assert len(errors()) == 1
    finally:
        clf.close()


def test_watch_survives_the_file_disappearing(rules_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    clf = Classifier.from_file(rules_file, watch=True, poll_interval=0.01)
    try:
        rules_file.unlink()
        wait_until(lambda: any("cannot read rules file" in r.getMessage() for r in caplog.records))
        assert clf.classify("checkout").category is C.CRITICAL
        replace_file(rules_file, RULES_B)
        wait_until(lambda: clf.classify("checkout").category is C.PERFORMANCE)
    finally:
        clf.close()


def test_close_stops_the_watcher_and_is_idempotent(rules_file: Path) -> None:
    before = {t.name for t in threading.enumerate()}
    assert "otel-events-rules-watch" not in before
    with Classifier.from_file(rules_file, watch=True, poll_interval=0.01) as clf:
        assert any(t.name == "otel-events-rules-watch" and t.daemon for t in threading.enumerate())
    assert all(t.name != "otel-events-rules-watch" for t in threading.enumerate())
    clf.close()
    Classifier().close()


def test_bad_poll_interval(rules_file: Path) -> None:
    with pytest.raises(ValueError, match="poll interval must be positive"):
        Classifier.from_file(rules_file, watch=True, poll_interval=0)
