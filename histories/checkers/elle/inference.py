"""What inference learns from a transactional history, as data.

:class:`Inference` gathers, for one history: the transactions, the dependency graph
(:class:`~replicheck.histories.checkers.elle.graph.DependencyGraph`), the version order
recovered for each key (:class:`VersionOrder`), the anomalies found without cycle
search (:class:`Finding`), and notes on what could not be inferred. The list-append
and rw-register inferences fill one in; cycle search, explanations and verdicts only
read it. Other deciders (e.g. an SMT encoding of the version orders left ambiguous)
can start from it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from replicheck.histories.checkers.elle.graph import DependencyGraph
from replicheck.histories.checkers.elle.txn import Txn, Workload


@dataclass(frozen=True)
class VersionOrder:
    """What is known of the order of the versions of one key.

    A version is named by the value that created it (list-append: the element
    appended; rw-register: the value written); ``None`` is the initial state and
    precedes every version. ``versions`` lists the known versions (for a total order,
    in order). ``total`` says the order of ``versions`` is known completely (list-append,
    from the longest read); otherwise only ``pairs`` (``a`` before ``b``) are known and
    the rest is undecided. Versions never observed (a list-append append nobody read)
    are not listed."""

    key: Hashable
    versions: tuple[Any, ...]
    total: bool
    known: tuple[tuple[Any, Any], ...] = ()

    def pairs(self) -> tuple[tuple[Any, Any], ...]:
        """The known ``(earlier, later)`` pairs: consecutive versions (from the initial
        state ``None``) for a total order, the inferred pairs otherwise."""
        if self.total:
            chain = (None, *self.versions)
            return tuple(pairwise(chain))
        return self.known


@dataclass(frozen=True)
class Finding:
    """An anomaly found without searching for cycles: its ``type`` (a lattice anomaly
    name), the transactions involved (indexes into the history's transactions; the
    one that observed the anomaly first), the ``key`` concerned, and details for the
    explanation (values read, expected, ...)."""

    type: str
    txns: tuple[int, ...]
    key: Hashable | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Inference:
    """Everything inferred from one history (filled in by an inference, read by the
    rest). ``complete`` is False when something the history needs could not be
    inferred (a value no transaction wrote, a value written twice): then even an
    acyclic graph does not prove a serial order, and ``notes`` say why."""

    workload: Workload
    txns: tuple[Txn, ...]
    graph: DependencyGraph
    versions: dict[Hashable, VersionOrder] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    layouts: dict[Hashable, KeyLayout] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyLayout:
    """list-append, one key whose reads fit one order: the committed writer of each
    element of that order (``owners``, -1 when not a member), the reads as ``(reader,
    length of the prefix read)``, and the members whose appends nobody read
    (``unread``: they follow the order, among themselves in any order)."""

    owners: tuple[int, ...]
    reads: tuple[tuple[int, int], ...]
    unread: tuple[int, ...]
