"""A Drain-style log template miner (He et al., "Drain: An Online Log Parsing Approach with Fixed Depth Tree").

Messages are split into tokens; the fixed-depth tree routes a message by its token count, then by its first
token (a token holding a digit or already a variable goes to the wildcard branch). In the leaf, the message
joins the most similar template when the share of equal tokens reaches ``similarity``; differing positions
become ``<*>``. Messages arrive already masked and grouped by SQL (patterns.py), each with a weight.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

WILDCARD = "<*>"


@dataclass(slots=True)
class Cluster:
    """A mined template and the shapes (masked messages) it absorbed."""

    tokens: list[str]
    members: list[str] = field(default_factory=list)

    @property
    def template(self) -> str:
        """The template text, variables as ``<*>``."""
        return " ".join(self.tokens)


def _route_token(token: str) -> str:
    return WILDCARD if token == WILDCARD or any(ch.isdigit() for ch in token) else token


def _similarity(template: list[str], tokens: list[str]) -> tuple[float, int]:
    equal = 0
    wildcards = 0
    for a, b in zip(template, tokens, strict=True):
        if a == WILDCARD:
            wildcards += 1
        elif a == b:
            equal += 1
    return equal / len(tokens), wildcards


class DrainMiner:
    """Mine templates from messages; deterministic for a given input order.

    Args:
        similarity: share of equal (non-variable) tokens needed to join a template (Drain's st; 0.4 in the paper,
            0.5 is stricter and keeps short templates apart).
    """

    def __init__(self, similarity: float = 0.5) -> None:
        self.similarity = similarity
        self.clusters: list[Cluster] = []
        self._leaves: dict[tuple[int, str], list[Cluster]] = {}

    def add(self, message: str) -> Cluster:
        """Add one message (a shape); return the cluster it joined or created."""
        tokens = message.split()
        if not tokens:
            tokens = [""]
        key = (len(tokens), _route_token(tokens[0]))
        leaf = self._leaves.setdefault(key, [])
        best: Cluster | None = None
        best_score = (-1.0, -1)
        for cluster in leaf:
            score = _similarity(cluster.tokens, tokens)
            if score > best_score:
                best, best_score = cluster, score
        if best is None or best_score[0] < self.similarity:
            best = Cluster(list(tokens))
            leaf.append(best)
            self.clusters.append(best)
        else:
            best.tokens = [a if a == b else WILDCARD for a, b in zip(best.tokens, tokens, strict=True)]
        best.members.append(message)
        return best

    def add_all(self, messages: Iterable[str]) -> None:
        """Add messages in order."""
        for message in messages:
            self.add(message)
