"""The words and names every report of ``replicheck verify`` shares.

One home for what the Markdown, HTML and JSON reports (and the ``verify`` command)
must say the same way: the overall result and what its exit status means, the text of
a claims-versus-observed cell, the legend, which guarantee columns the matrix shows,
and where a counterexample's replayable schedule is written
(:func:`replay_file_name`).
"""

from __future__ import annotations

import re
from typing import Final

from replicheck.histories.verdict import Anomaly, Verdict
from replicheck.models.guarantees import ANOMALY_COLUMNS, GUARANTEES, MECHANISM_PROMISES
from replicheck.properties.outcomes import Cell, StoreOutcome, SuiteOutcome

__all__ = [
    "EXIT_MEANINGS",
    "LEGEND",
    "REPLAY_DIR",
    "all_anomalies",
    "cell_text",
    "matrix_columns",
    "overall_result",
    "replay_file_name",
    "store_title",
    "validity_text",
]

REPLAY_DIR: Final = "replay"
"""The folder, inside the report directory, that holds the replayable schedules."""

EXIT_MEANINGS: Final[dict[int, str]] = {
    0: "every claimed guarantee holds",
    1: "a claimed guarantee is violated (or a property crashed)",
    2: "usage error",
    3: "nothing violated, but a claimed guarantee is unknown (a checker's time limit)",
}
"""What each exit status of ``replicheck verify`` means (CONTRACTS.md section 6)."""

_RESULTS: Final[dict[int, str]] = {0: "holds", 1: "violated", 3: "unknown"}

LEGEND: Final[tuple[tuple[str, str], ...]] = (
    ("holds (N)", "claimed; checked on N examples and never found violated"),
    ("holds, not claimed (N)", "not claimed, yet checked on N examples without an anomaly"),
    ("violated (V of N)", "claimed, and V of the N examples that judged it violated it "
     "(a failure: exit status 1)"),
    ("observed (O of N)", "not claimed, and O of N examples showed an anomaly "
     "(reported, never a failure)"),
    ("unknown (U of N)", "a checker reached its time limit on U of N examples and "
     "nothing was violated"),
    ("not applicable", "nothing the guarantee speaks about was checked (a missing "
     "capability, or no operation it covers)"),
)
"""Each cell text pattern and what it means, in the order the reports list them."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def replay_file_name(store_target: str, property_name: str, guarantee: str) -> str:
    """Where the replayable schedule of ``property_name``'s counterexample on
    ``guarantee`` for the store ``store_target`` (as given to ``--store``) lives,
    relative to the report directory: ``replay/<store>-<property>-<guarantee>.json``
    (POSIX separators; one property may give several counterexamples, one per
    guarantee). Characters other than
    letters, digits, ``.``, ``_`` and ``-`` (e.g. the ``:`` of ``mutant:NAME`` or of
    ``package.module:factory``) become ``-``, so the name is one safe file name on
    every platform. The same arguments always give the same name."""
    store = _UNSAFE.sub("-", store_target).strip("-.") or "store"
    prop = _UNSAFE.sub("-", property_name).strip("-.") or "property"
    about = _UNSAFE.sub("-", guarantee).strip("-.") or "guarantee"
    return f"{REPLAY_DIR}/{store}-{prop}-{about}.json"


def overall_result(outcome: SuiteOutcome) -> str:
    """``holds``, ``violated`` or ``unknown``: the suite's result, from its exit
    status (0, 1, 3)."""
    return _RESULTS.get(outcome.exit_status, "unknown")


def matrix_columns(outcome: SuiteOutcome) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The guarantee columns of the claims-versus-observed matrix and the ones left
    out: GUARANTEES then MECHANISM_PROMISES (then any other column a cell names, such
    as the ANOMALY_COLUMNS, sorted), leaving out those that are not applicable (or
    absent) for every store."""
    known = GUARANTEES + MECHANISM_PROMISES
    extra = sorted({c.guarantee for s in outcome.stores for c in s.cells} - set(known))
    shown: list[str] = []
    dropped: list[str] = []
    for guarantee in (*known, *extra):
        cells = [s.cell(guarantee) for s in outcome.stores]
        if any(c is not None and c.status != "not-applicable" for c in cells):
            shown.append(guarantee)
        else:
            dropped.append(guarantee)
    return tuple(shown), tuple(dropped)


def cell_text(cell: Cell | None) -> str:
    """A matrix cell in words with its counts: ``holds (48)``, ``holds, not claimed
    (12)``, ``not seen (12)`` (an anomaly column: its detector found nothing),
    ``violated (1 of 48)``, ``observed (3 of 48)``, ``unknown (2 of 48)`` or ``not
    applicable`` (also for a missing cell)."""
    if cell is None or cell.status == "not-applicable":
        return "not applicable"
    total = cell.examples
    if cell.status == "holds" and cell.guarantee in ANOMALY_COLUMNS:
        return f"not seen ({cell.counts.get('holds', 0)})"
    if cell.status == "holds":
        held = cell.counts.get("holds", 0)
        return f"holds ({held})" if cell.claimed else f"holds, not claimed ({held})"
    found = cell.counts.get(cell.status, 0)
    text = f"{cell.status} ({found} of {total})"
    if cell.status == "violated" and not cell.claimed:
        text += ", not claimed"
    return text


def store_title(store: StoreOutcome) -> str:
    """How a report names a store: its target, and its descriptor name when they
    differ."""
    if store.name and store.name != store.target:
        return f"{store.target} ({store.name})"
    return store.target


def all_anomalies(verdict: Verdict) -> tuple[Anomaly, ...]:
    """The verdict's anomalies and those of its parts (each once, in order)."""
    found: list[Anomaly] = []

    def visit(v: Verdict) -> None:
        for anomaly in v.anomalies:
            if anomaly not in found:
                found.append(anomaly)
        for part in v.parts.values():
            visit(part)

    visit(verdict)
    return tuple(found)


def validity_text(valid: object) -> str:
    """A verdict's ``valid`` in words: ``valid``, ``not valid`` or ``unknown``."""
    if valid is True:
        return "valid"
    return "not valid" if valid is False else "unknown"
