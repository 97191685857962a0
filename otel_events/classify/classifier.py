"""The shared Classifier: SPEC §3 decision order, first match wins, every decision names its rule."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from otel_events.classify.attributes import ATTR_CATEGORY, ATTR_EVENT_NAME
from otel_events.classify.decision import SEVERITY_ERROR, Category, Decision
from otel_events.classify.matcher import Matcher
from otel_events.classify.rules import Rules, load_rules
from otel_events.classify.watch import FileWatcher, Signature, file_signature
from otel_events.errors import RulesError

logger = logging.getLogger(__name__)

# Decisions of steps 1 and 2 never depend on the rules: built once, returned without allocating.
_EXPLICIT: dict[object, Decision] = {}
for _category in Category:
    _EXPLICIT[_category.value] = _EXPLICIT[_category] = Decision(_category, "explicit")
_STATUS_ERROR = Decision(Category.CRITICAL, "status.error")
_STATUS_EXCEPTION = Decision(Category.CRITICAL, "status.exception")
_STATUS_SEVERITY = Decision(Category.CRITICAL, "status.severity")
# Marks "the last reload succeeded"; distinct from a None signature (the file is missing).
_NO_FAILURE = object()


class Classifier:
    """Classify spans and log records into categories (SPEC §3).

    Pure and thread-safe: :meth:`classify` reads one immutable compiled rule set, which :meth:`reload` replaces
    in a single assignment, so concurrent callers see either the old or the new rules, never a mix.

    Args:
        rules_path: A TOML rules file layered on the packaged defaults; None for the defaults alone.

    Raises:
        RulesError: if the rules file cannot be read or is invalid.
    """

    def __init__(self, rules_path: str | os.PathLike[str] | None = None) -> None:
        self._path = os.fspath(rules_path) if rules_path is not None else None
        self._reload_lock = threading.Lock()
        self._watcher: FileWatcher | None = None
        self._failed_signature: Signature | object = _NO_FAILURE
        signature = file_signature(self._path) if self._path else None
        self._matcher = Matcher(load_rules(self._path))
        self._loaded_signature = signature

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, watch: bool = False, poll_interval: float = 1.0) -> Classifier:
        """Create a classifier from a rules file.

        Args:
            path: TOML rules file, layered on the packaged defaults unless it sets ``replace_defaults = true``.
            watch: Poll the file and reload it when it changes (a daemon thread; stop it with :meth:`close`).
            poll_interval: Seconds between polls when watching.

        Raises:
            RulesError: if the file cannot be read or is invalid.
        """
        classifier = cls(path)
        if watch:
            classifier._start_watch(poll_interval)
        return classifier

    @property
    def rules(self) -> Rules:
        """The rule set in use."""
        return self._matcher.rules

    @property
    def path(self) -> str | None:
        """The rules file, or None when using the packaged defaults alone."""
        return self._path

    def classify(
        self,
        name: str | None,
        attributes: Mapping[str, object] | None = None,
        *,
        status_error: bool = False,
        exception_event: bool = False,
        severity_number: int | None = None,
    ) -> Decision:
        """Decide the category of one item; first match wins.

        Args:
            name: Span name or log ``event_name``; when None or empty, ``attributes["event.name"]`` is used.
            attributes: The item's attributes.
            status_error: The span's status is ERROR.
            exception_event: The span has an ``exception`` event.
            severity_number: The log record's severity number.

        Returns:
            The category and the id of the rule that decided it.
        """
        matcher = self._matcher  # one read: the whole call sees one rule set
        if attributes:
            explicit = attributes.get(ATTR_CATEGORY)
            if explicit is not None and isinstance(explicit, str):
                decision = _EXPLICIT.get(explicit)
                if decision is not None:
                    return decision
        if status_error:
            return _STATUS_ERROR
        if exception_event:
            return _STATUS_EXCEPTION
        if severity_number is not None and severity_number >= SEVERITY_ERROR:
            return _STATUS_SEVERITY
        if not name and attributes:
            event_name = attributes.get(ATTR_EVENT_NAME)
            name = event_name if isinstance(event_name, str) else None
        if name:
            decision = matcher.match_name(name)
            if decision is not None:
                return decision
        if attributes:
            decision = matcher.match_attributes(attributes)
            if decision is not None:
                return decision
        return matcher.default

    def classify_plain(self, name: str | None, attributes: Mapping[str, object]) -> Decision | None:
        """Fast entry point for the common item: no error status, no ``exception`` event, no error severity.

        Returns what :meth:`classify` would return for ``(name, attributes)``, from a cache and without
        allocating, when no attribute key is one the decision order reads (the explicit category, ``error``,
        ``exception.*``, ``user.id``, user attribute rules, ... and ``event.name`` for an item without a name);
        else None, and the caller uses :meth:`classify`. The SDK processors call it for every item first.

        Args:
            name: Span name or log ``event_name``.
            attributes: The item's attributes.
        """
        matcher = self._matcher  # one read: the whole call sees one rule set
        if matcher.plain_keys.issuperset(attributes):
            if name:
                decision = matcher.plain_decisions.get(name)
                if decision is not None:
                    return decision
            elif ATTR_EVENT_NAME not in attributes:
                return matcher.default
        return matcher.plain_decision(name, attributes)

    def reload(self) -> Rules:
        """Re-read the rules file and swap the rules atomically; on error the old rules stay in use.

        Returns:
            The new rule set.

        Raises:
            RulesError: if the file cannot be read or is invalid.
        """
        with self._reload_lock:
            signature = file_signature(self._path) if self._path else None
            matcher = Matcher(load_rules(self._path))
            self._matcher = matcher
            self._loaded_signature = signature
            self._failed_signature = _NO_FAILURE
            return matcher.rules

    def close(self) -> None:
        """Stop watching the rules file; safe to call twice and when not watching."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def __enter__(self) -> Classifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start_watch(self, poll_interval: float) -> None:
        assert self._path is not None
        self._watcher = FileWatcher(
            self._path, self._reload_on_change, interval=poll_interval, initial=self._loaded_signature
        )
        self._watcher.start()

    def _reload_on_change(self, signature: Signature) -> None:
        try:
            rules = self.reload()
        except RulesError as exc:
            # Logged once per change of the file: the watcher only calls back when the signature changes.
            if signature != self._failed_signature:
                self._failed_signature = signature
                logger.error("keeping the previous classification rules: %s", exc)
            return
        logger.info("reloaded classification rules from %s", ", ".join(rules.sources))
