"""Elle-style checking of transactional histories: list-append and read-write registers.

:func:`check_list_append` and :func:`check_rw_register` judge a history of ``txn``
operations against consistency models (names of ``replicheck.models.lattice``) and
return a :class:`~replicheck.histories.verdict.Verdict`. :func:`analyze` exposes what
they learn before judging (version orders, the dependency graph, cycles) for other
deciders to build on.
"""

from replicheck.histories.checkers.elle.anomalies import CycleAnomaly, classify
from replicheck.histories.checkers.elle.checker import (
    Analysis,
    analyze,
    check_list_append,
    check_rw_register,
)
from replicheck.histories.checkers.elle.graph import DependencyGraph, Edge, Step
from replicheck.histories.checkers.elle.inference import Finding, Inference, VersionOrder
from replicheck.histories.checkers.elle.txn import Txn, transactions

__all__ = [
    "Analysis",
    "CycleAnomaly",
    "DependencyGraph",
    "Edge",
    "Finding",
    "Inference",
    "Step",
    "Txn",
    "VersionOrder",
    "analyze",
    "check_list_append",
    "check_rw_register",
    "classify",
    "transactions",
]
