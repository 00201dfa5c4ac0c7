"""What inference learns from an item history, as data.

:class:`ItemInference` is filled in by ``items.infer_items`` (decoding, then
``item_versions`` and ``item_order``) and read by cycle search, explanations and
verdicts; :class:`ItemAnalysis` adds what cycle search found. :data:`CORE` and
:data:`GARBAGE_READ` are names those stages share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from replicheck.histories.checkers.elle.anomalies import CycleAnomaly
from replicheck.histories.checkers.elle.graph import DependencyGraph, SearchStats
from replicheck.histories.checkers.elle.inference import Finding, VersionOrder
from replicheck.histories.checkers.elle.item_values import ItemId, Vid
from replicheck.histories.checkers.elle.txn import Txn
from replicheck.models.items.operations import Span
from replicheck.models.items.requests import Request, Response, TableSchema

CORE: Final = ("core",)
"""In a ``choice``: leave every open choice undecided (the reads it concerns give only
the edges every way gives): the anomalies found then hold in every way."""

GARBAGE_READ: Final = "garbage-read"
"""A read no interpretation of the history explains (a recorded version no write can
have made, or holding another item than its writer wrote): every model forbids it."""


@dataclass
class ItemInference:
    """What inference learns from an item history, as data: the transactions (one per
    operation, in invocation order; ``Txn.mops`` lists ``("r"|"w", item label,
    recorded version)``, ``None`` when none was recorded), the dependency graph, each
    item's label (``items/pk=a``) and version order (``VersionOrder``: the recorded
    versions in order, ``total``, when every committed write of the item recorded one;
    else the known pairs), the anomalies found without cycle search, notes on what
    could not be inferred, the open ``choices`` (a recorded version read that several
    indeterminate writes may have made: ``((item, version), number of candidates)``),
    whether the ``choice`` given made one write two versions (``clash``), and whether
    the history is ``complete`` (every read's
    version known, every committed write's version recorded, nothing contradictory:
    then an acyclic graph is a proof). Also, per transaction, its decoded request and
    response (``None`` unless ``ok``) and, for a ``fail``, its recorded failure (a
    ``models.specs.items.Failure``; ``None`` otherwise); the tables' key schemas (declared by the
    ``tables`` record, or told from the keys requests use); and, per member, the
    ``(item, version id)`` pairs it read (those known) and wrote, a version id being
    ``None`` (the initial state), ``("v", recorded version)``, ``("=", frozen item)``
    or ``("T", writer's index)``. With the store's token window declared
    (``token_window``, seconds; :mod:`replicheck.histories.windows`), ``spans`` says
    per transaction when it took effect, in the store's seconds (None: unknown).
    ``failed_returns`` holds, per transaction, the record index of a ``fail``'s
    completion (None for others: their ``Txn.ret`` says it), so a failure the item
    model must explain is placed where real time allows."""

    txns: tuple[Txn, ...]
    graph: DependencyGraph
    labels: dict[ItemId, str] = field(default_factory=dict)
    versions: dict[ItemId, VersionOrder] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    requests: tuple[Request, ...] = ()
    responses: tuple[Response | None, ...] = ()
    failures: tuple[Any, ...] = ()
    schemas: dict[str, TableSchema] = field(default_factory=dict)
    schemas_declared: bool = False
    reads: dict[int, list[tuple[ItemId, Vid]]] = field(default_factory=dict)
    writes: dict[int, list[tuple[ItemId, Vid]]] = field(default_factory=dict)
    choices: list[tuple[tuple[ItemId, Any], int]] = field(default_factory=list)
    clash: bool = False
    choice: Mapping[Any, int] = field(default_factory=dict)
    spans: tuple[Span | None, ...] = ()
    token_window: float | None = None
    failed_returns: tuple[int | None, ...] = ()


@dataclass
class ItemAnalysis:
    """An item history's inference, the non-trivial strongly connected components of
    its dependency graph, the cycle anomalies found in them, a topological order of the
    whole graph when it is acyclic, work done, and whether the time limit cut the
    analysis short."""

    inference: ItemInference
    components: list[list[int]] = field(default_factory=list)
    cycles: list[CycleAnomaly] = field(default_factory=list)
    order: list[int] | None = None
    stats: SearchStats = field(default_factory=SearchStats)
    timed_out: bool = False
