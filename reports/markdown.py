"""The Markdown report of ``replicheck verify``.

:func:`render_markdown` formats a :class:`~replicheck.properties.outcomes.SuiteOutcome`
(it never reruns a checker): a header with the overall result, the claims-versus-
observed matrix (one row per store, one column per guarantee) and its legend, then per
store the property runs and, for every violation and observation, the minimal
counterexample's steps, the checker's anomalies, the operations of its history and how
to replay it. Tables are GitHub-flavoured (tabulate's ``github`` format). The same
outcome always gives the same text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tabulate import tabulate

from replicheck.histories.history import History
from replicheck.histories.verdict import Verdict
from replicheck.properties.outcomes import Counterexample, StoreOutcome, SuiteOutcome
from replicheck.reports.json_report import format_value
from replicheck.reports.naming import (
    EXIT_MEANINGS,
    LEGEND,
    all_anomalies,
    cell_text,
    matrix_columns,
    overall_result,
    replay_file_name,
    store_title,
    validity_text,
)

__all__ = ["HISTORY_ROWS", "render_markdown"]

HISTORY_ROWS = 200
"""The most operations a counterexample's history table lists (the JSON report has
them all)."""


def render_markdown(outcome: SuiteOutcome) -> str:
    """The report as Markdown text (ending with a newline)."""
    out: list[str] = []
    out += _header(outcome)
    out += _matrix(outcome)
    for store in outcome.stores:
        out += _store(store)
    return "\n".join(out).rstrip("\n") + "\n"


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


_MARKUP = re.compile(r"[\\`*<]|\](?=[(\[])|&(?=#?\w+;)|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
"""Characters Markdown (or the HTML it may embed) would read as markup: backslash,
backtick, asterisk, a ``]`` that would close a link's text, an underscore at a
word's edge, ``<`` and an ``&`` that starts an entity. Other brackets, ``>`` and an
underscore inside a word (``attribute_not_exists``) are left as they are, so that
the raw text stays readable."""

_ESCAPES = {"<": "&lt;", "&": "&amp;"}


def _plain(text: object) -> str:
    """Free text (an explanation, a value, a store's words) shown as itself: one
    line, with every character of :data:`_MARKUP` escaped (a table's pipes are
    escaped by :func:`_cell`)."""
    escaped = _MARKUP.sub(lambda m: _ESCAPES.get(m.group(), "\\" + m.group()), str(text))
    return " ".join(escaped.split())


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    body = [[_cell(c) for c in row] for row in rows]
    text = tabulate(body, headers=[_cell(h) for h in headers], tablefmt="github",
                    disable_numparse=True)
    return [*text.splitlines(), ""]


def _header(outcome: SuiteOutcome) -> list[str]:
    status = outcome.exit_status
    return [
        "# replicheck verify report",
        "",
        f"**Result: {overall_result(outcome)}** — exit status {status}: "
        f"{EXIT_MEANINGS.get(status, '')}.",
        "",
        f"- Profile: `{outcome.profile}`",
        f"- Started: {outcome.started or 'unknown'}",
        f"- Total time: {outcome.seconds:.2f} s",
        f"- Stores: {', '.join(f'`{s.target}`' for s in outcome.stores) or 'none'}",
        "",
    ]


def _matrix(outcome: SuiteOutcome) -> list[str]:
    shown, dropped = matrix_columns(outcome)
    out = ["## Claims versus observed", ""]
    rows = [[f"`{s.target}`", *(cell_text(s.cell(g)) for g in shown)]
            for s in outcome.stores]
    out += _table(["store", *shown], rows)
    if dropped:
        out += [f"Columns left out (not applicable for every store): "
                f"{', '.join(f'`{g}`' for g in dropped)}.", ""]
    out += ["Legend:", ""]
    out += [f"- **{text}**: {meaning}." for text, meaning in LEGEND]
    out.append("")
    return out


def _store(store: StoreOutcome) -> list[str]:
    out = [f"## Store `{store.target}`", ""]
    if store.name and store.name != store.target:
        out += [f"Descriptor: {_plain(store.name)}", ""]
    claims = ", ".join(f"`{c}`" for c in store.claims) or "nothing"
    out += [f"Claims: {claims}.", "", "### Properties", ""]
    rows = [[p.name, p.status, str(p.examples), f"{p.seconds:.2f}",
             _plain(p.reason) if p.reason else "-"] for p in store.properties]
    out += _table(["property", "status", "examples", "seconds", "reason"], rows)
    for example in store.violations:
        out += _counterexample("Violation", store, example)
    for example in store.observations:
        out += _counterexample("Observation", store, example)
    return out


def _counterexample(kind: str, store: StoreOutcome, example: Counterexample) -> list[str]:
    out = [f"### {kind}: `{example.guarantee}` in `{example.property}` "
           f"on `{store_title(store)}`", ""]
    if example.explanation:
        out += [_plain(example.explanation), ""]
    if example.steps:
        counted = ("" if example.decisions is None
                   else f" ({example.decisions} scheduler decisions)")
        out += [f"Minimal counterexample{counted}:", ""]
        out += [f"{i}. {_plain(step)}" for i, step in enumerate(example.steps, 1)]
        out.append("")
    if example.verdict is not None:
        out += _verdict(example.verdict)
    if example.history is not None:
        out += _history(example.history, example.verdict)
    out += _replay(store, example)
    return out


def _verdict(verdict: Verdict) -> list[str]:
    valid = validity_text(verdict.valid)
    checked = ", ".join(verdict.consistency) or "-"
    out = [f"Checker verdict: {valid} (model `{verdict.model}`, checked for {checked}).",
           ""]
    anomalies = all_anomalies(verdict)
    if anomalies:
        out += ["Anomalies:", ""]
        for anomaly in anomalies:
            ops = ", ".join(str(i) for i in anomaly.ops)
            out.append(f"- **{anomaly.type}** (operations {ops}): {_plain(anomaly.explanation)}")
        out.append("")
    if verdict.ruled_out:
        out += [f"Ruled out: {', '.join(sorted(verdict.ruled_out))}.", ""]
    if verdict.still_possible:
        out += [f"Still possible: {', '.join(sorted(verdict.still_possible))}.", ""]
    for note in verdict.notes:
        out += [f"Note: {_plain(note)}", ""]
    return out


def _history(history: History, verdict: Verdict | None) -> list[str]:
    marks: dict[int, list[str]] = {}
    for anomaly in all_anomalies(verdict) if verdict is not None else ():
        for op in anomaly.ops:
            if anomaly.type not in marks.setdefault(op, []):
                marks[op].append(anomaly.type)
    count = len(history.operations)
    shown = history.operations[:HISTORY_ROWS]
    out = [f"History ({count} operation{'s' if count != 1 else ''}; records are "
           "invocation → completion indexes):", ""]
    rows = [[str(op.id), str(op.process), _plain(op.f), _plain(format_value(op.key)),
             _plain(format_value(op.input)),
             _plain(format_value(op.output)) if op.ret is not None else "-", op.status,
             f"{op.call} → {op.ret if op.ret is not None else '…'}",
             ", ".join(marks.get(op.id, ())) or ""]
            for op in shown]
    out += _table(["op", "process", "f", "key", "input", "output", "status", "records",
                   "anomaly"], rows)
    if count > len(shown):
        out += [f"The first {len(shown)} of {count} operations are listed; the JSON "
                "report has them all.", ""]
    return out


def _replay(store: StoreOutcome, example: Counterexample) -> list[str]:
    out: list[str] = []
    if example.schedule is not None:
        name = replay_file_name(store.target, example.property, example.guarantee)
        out += [f"Replay: `replicheck replay {name}` (from the report directory).", ""]
    else:
        out += ["Replay: no replayable schedule (the store does not offer deterministic "
                "scheduling).", ""]
    if example.reproduce:
        out += ["Reproduce with Hypothesis (paste above the test):", "", "```python",
                example.reproduce, "```", ""]
    return out
