"""The words and names every report of ``replicheck verify`` shares.

One home for what the Markdown, HTML and JSON reports (and the ``verify`` command)
must say the same way: the overall result and what its exit status means, the text of
a claims-versus-observed cell, the legend, which guarantee columns the matrix shows,
where a counterexample's replayable schedule is written
(:func:`replay_file_name`), and how an operation of a history reads: who invoked it
(:func:`client_label`), what it asked and was answered in DynamoDB's words
(:func:`operation_text`, :func:`request_words`, :func:`answer_words`) and the keys it
names (:func:`operation_key`). The words themselves have one home,
:mod:`replicheck.models.items.wording` (through :mod:`replicheck.histories.wording`),
which the counterexample steps and checker explanations use too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from replicheck.histories import wording
from replicheck.histories.history import History, Operation
from replicheck.histories.verdict import Anomaly, Verdict
from replicheck.models.guarantees import ANOMALY_COLUMNS, GUARANTEES, MECHANISM_PROMISES
from replicheck.models.items.requests import TableSchema
from replicheck.properties.outcomes import UNCHECKED, UNKNOWN, Cell, StoreOutcome, SuiteOutcome

__all__ = [
    "EXIT_MEANINGS",
    "HISTORY_ROWS",
    "LEGEND",
    "REPLAY_DIR",
    "Words",
    "all_anomalies",
    "answer_words",
    "cell_text",
    "checked_count",
    "client_label",
    "judged_cells",
    "matrix_columns",
    "operation_key",
    "operation_text",
    "overall_result",
    "replay_file_name",
    "request_words",
    "store_title",
    "validity_text",
]

HISTORY_ROWS: Final = 200
"""The most operations a counterexample's history table lists (the JSON report has
them all)."""

REPLAY_DIR: Final = "replay"
"""The folder, inside the report directory, that holds the replayable schedules."""

EXIT_MEANINGS: Final[dict[int, str]] = {
    0: "every claimed guarantee holds",
    1: "a claimed guarantee is violated (or a property crashed)",
    2: "usage error",
    3: "nothing violated, but a claimed guarantee is unknown (a checker's time limit) or "
       "unchecked (no example judged it)",
}
"""What each exit status of ``replicheck verify`` means (CONTRACTS.md section 6)."""

_RESULTS: Final[dict[int, str]] = {0: "holds", 1: "violated"}

LEGEND: Final[tuple[tuple[str, str], ...]] = (
    ("holds (N)", "claimed; checked on N examples and never found violated"),
    ("holds, not claimed (N)", "not claimed, yet checked on N examples without an anomaly"),
    ("violated (V of N)", "claimed, and V of the N examples that judged it violated it "
     "(a failure: exit status 1)"),
    ("observed (O of N)", "not claimed, and O of N examples showed an anomaly "
     "(reported, never a failure)"),
    ("unknown (U of N)", "a checker reached its time limit on U of N examples and "
     "nothing was violated"),
    ("unchecked", "claimed, but no example judged it (a missing capability, or no "
     "example held anything it speaks about; the reason says which): exit status 3"),
    ("not applicable", "not claimed, and nothing the guarantee speaks about was checked "
     "(a missing capability, or no operation it covers)"),
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
    """The suite's result, from its exit status: ``holds`` (0), ``violated`` (1), and
    for 3 what left a claim undecided: ``unknown`` (a checker reached its time limit
    on a claimed guarantee), ``unchecked`` (no example judged a claimed guarantee) or
    ``unknown and unchecked`` (both)."""
    status = outcome.exit_status
    if status != 3:
        return _RESULTS.get(status, "unknown")
    claimed = {c.status for s in outcome.stores for c in s.cells if c.claimed}
    reasons = [r for r in (UNKNOWN, UNCHECKED) if r in claimed]
    return " and ".join(reasons) or "unknown"


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
    applicable`` (also for a missing cell), or ``unchecked`` (a claim no example
    judged; the cell's reason says why)."""
    if cell is None or cell.status == "not-applicable":
        return "not applicable"
    if cell.status == "unchecked":
        return "unchecked"
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


def judged_cells(store: StoreOutcome) -> tuple[Cell, ...]:
    """The store's cells that some checker decided (those naming a checker and not
    ``not-applicable``), in matrix order: the ones whose checker the reports list."""
    return tuple(c for c in store.cells if c.checker and c.status != "not-applicable")


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


def checked_count(verdict: Verdict | None, history: History | None) -> str:
    """How many operations the checker judged, beside the history drawn: ``9
    operations`` when it judged them all, ``6 of 9 operations checked`` when it judged
    part of them (the reads a claim covers, the functions a model knows)."""
    total = None if history is None else len(history.operations)
    checked = total if verdict is None else verdict.stats.operations
    if total is None or checked == total:
        return f"{checked} operation{'s' if checked != 1 else ''}"
    return f"{checked} of {total} operations checked"


def client_label(op: Operation) -> str:
    """Who invoked ``op``, the same in steps, timelines and history tables: ``c1``;
    ``c1/2`` for client ``c1``'s second process (after an indeterminate answer the
    client continues under a fresh process, CONTRACTS.md section 5); ``process 3`` in
    a history that names no clients."""
    return wording.process_label(op)


def operation_text(op: Operation, schemas: Mapping[str, TableSchema] | None = None) -> str:
    """``op`` and its answer in DynamoDB's words: ``PutItem k0 {v: "v2"} if
    attribute_not_exists(pk) -> ok``, ``GetItem k0 (strong) -> {v: "v2"}``,
    ``UpdateItem k1 SET v = "v2" if v = "v1" -> ConditionalCheckFailed``, ``... ->
    indeterminate``; an operation that is not an item request as ``f key value ->
    output``. ``schemas`` (the history's tables, as :class:`Words` reads them) let a PutItem show
    its key apart."""
    return wording.operation_words(op, schemas, show=_show)


def operation_key(op: Operation, schemas: Mapping[str, TableSchema] | None = None) -> str:
    """The history table's ``key`` cell: the operation's key, or the item keys its
    request names (``k0``, ``k0, k1`` for a transaction); empty when it names none."""
    return wording.operation_keys(op, schemas, show=_show)


def request_words(op: Operation, schemas: Mapping[str, TableSchema] | None = None) -> str:
    """What ``op`` asked, in DynamoDB's words (:func:`operation_text` without the
    answer)."""
    return wording.request_words(op, schemas, show=_show)


def answer_words(op: Operation, schemas: Mapping[str, TableSchema] | None = None) -> str:
    """What ``op`` was answered: ``{v: "v2"}``, ``no item``, ``ok``,
    ``ConditionalCheckFailed``, ``indeterminate`` (:func:`operation_text`'s answer)."""
    return wording.answer_words(op, schemas, show=_show)


class Words:
    """The words of one history's operations (its tables' key schemas read once;
    values of operations that are not item requests written by
    :func:`~replicheck.reports.json_report.format_value`, total for any value)."""

    def __init__(self, history: History) -> None:
        self.schemas = wording.history_schemas(history)

    def operation(self, op: Operation) -> str:
        """:func:`operation_text` of ``op``."""
        return operation_text(op, self.schemas)

    def request(self, op: Operation) -> str:
        """What ``op`` asked (:func:`request_words`)."""
        return request_words(op, self.schemas)

    def answer(self, op: Operation) -> str:
        """What ``op`` was answered (:func:`answer_words`)."""
        return answer_words(op, self.schemas)

    def key(self, op: Operation) -> str:
        """:func:`operation_key` of ``op``."""
        return operation_key(op, self.schemas)

    @staticmethod
    def client(op: Operation) -> str:
        """:func:`client_label` of ``op``."""
        return client_label(op)


def _show(value: object) -> str:
    from replicheck.reports.json_report import format_value

    return format_value(value)
