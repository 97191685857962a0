"""Named replay checkpoints: a JSON file next to the source, rewritten after every acknowledged request.

A database ``shop.duckdb`` keeps its checkpoints in ``shop.duckdb.replay/NAME.json``; an archive directory in
``DIR/.replay/NAME.json``. The file records the timeline position everything up to which was acknowledged, and for
the slice in flight how many of its requests were; it is replaced atomically (temporary file, rename), so an
interrupted replay finds either the previous or the new position, never half of one.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from otel_events.errors import ConfigError
from otel_events.stream.replay_plan import Position

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class PartialSlice:
    """A slice of which the first ``requests`` requests were acknowledged."""

    rank: int
    first_ns: int
    last_ns: int
    requests: int


@dataclass
class Checkpoint:
    """The progress of one named replay.

    Attributes:
        selection: what was replayed (source, filter, window, kinds); resuming with another selection is refused.
        position: everything at or before it on the timeline was acknowledged.
        partial: the slice in flight.
        requests: requests acknowledged in total.
        items: items acknowledged in total.
        complete: the replay reached the end.
    """

    selection: dict[str, object]
    position: Position | None = None
    partial: PartialSlice | None = None
    requests: int = 0
    items: int = 0
    complete: bool = False


def checkpoint_path(source: Path, name: str, *, archive: bool) -> Path:
    """Where checkpoint ``name`` of ``source`` lives.

    Raises:
        ConfigError: for a name that is not 1-64 letters, digits, ``_``, ``.`` or ``-``.
    """
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(f"invalid checkpoint name {name!r}: use 1-64 letters, digits, '_', '.' or '-'")
    directory = source / ".replay" if archive else source.with_name(source.name + ".replay")
    return directory / f"{name}.json"


class CheckpointFile:
    """Loads and atomically saves one checkpoint file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, selection: dict[str, object]) -> Checkpoint:
        """The saved checkpoint, or a fresh one for ``selection``.

        Raises:
            ConfigError: the file is unreadable, or was written for a different selection.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Checkpoint(selection=selection)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read replay checkpoint {self.path}: {exc}") from None
        if data.get("selection") != selection:
            raise ConfigError(
                f"replay checkpoint {self.path} was recorded for a different replay ({data.get('selection')}); "
                "use another --checkpoint name, or delete the file to start over"
            )
        position = data.get("position")
        partial = data.get("partial")
        return Checkpoint(
            selection=selection,
            position=Position(**position) if position else None,
            partial=PartialSlice(**partial) if partial else None,
            requests=int(data.get("requests", 0)),
            items=int(data.get("items", 0)),
            complete=bool(data.get("complete", False)),
        )

    def save(self, checkpoint: Checkpoint) -> None:
        """Replace the file atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(checkpoint)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        temporary.replace(self.path)
