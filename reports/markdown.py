"""The Markdown report of ``replicheck verify``.

:func:`render_markdown` formats a :class:`~replicheck.properties.outcomes.SuiteOutcome`
(it never reruns a checker): a header with the overall result, the claims-versus-
observed matrix (one row per store, one column per guarantee) and its legend, then per
store the property runs and, for every violation and observation, the minimal
counterexample's steps, the checker's anomalies, the operations of its history and how
to replay it. Tables are GitHub-flavoured (tabulate's ``github`` format). The same
outcome always gives the same text. Every string from a store or a history goes through
the :mod:`replicheck.reports.escaping` function of the Markdown context it lands in (a
code span, inline text, strong emphasis, a table cell, a heading, a code block), so it
renders as itself and never as markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from replicheck.histories.history import History
from replicheck.histories.verdict import NOT_CHOSEN, Verdict
from replicheck.properties.outcomes import Counterexample, StoreOutcome, SuiteOutcome
from replicheck.reports.escaping import (
    md_cell,
    md_code,
    md_code_block,
    md_heading,
    md_strong,
    md_text,
)
from replicheck.reports.linearization import prefix_markdown
from replicheck.reports.naming import (
    EXIT_MEANINGS,
    HISTORY_ROWS,
    LEGEND,
    Words,
    all_anomalies,
    cell_text,
    checked_count,
    judged_cells,
    matrix_columns,
    overall_result,
    replay_file_name,
    store_title,
    validity_text,
)

__all__ = ["HISTORY_ROWS", "render_markdown"]

def render_markdown(outcome: SuiteOutcome) -> str:
    """The report as Markdown text (ending with a newline)."""
    out: list[str] = []
    out += _header(outcome)
    out += _matrix(outcome)
    for store in outcome.stores:
        out += _store(store)
    return "\n".join(out).rstrip("\n") + "\n"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub table of cells that are inline Markdown already (escaped by their
    callers); each becomes one cell by :func:`md_cell`."""
    body = [[md_cell(c) for c in row] for row in rows]
    text = tabulate(body, headers=[md_cell(h) for h in headers], tablefmt="github",
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
        f"- Profile: {md_code(outcome.profile)}",
        f"- Started: {md_text(outcome.started) or 'unknown'}",
        f"- Total time: {outcome.seconds:.2f} s",
        f"- Stores: {', '.join(md_code(s.target) for s in outcome.stores) or 'none'}",
        "",
    ]


def _matrix(outcome: SuiteOutcome) -> list[str]:
    shown, dropped = matrix_columns(outcome)
    out = ["## Claims versus observed", ""]
    rows = [[md_code(s.target), *(md_text(cell_text(s.cell(g))) for g in shown)]
            for s in outcome.stores]
    out += _table(["store", *(md_text(g) for g in shown)], rows)
    if dropped:
        out += [f"Columns left out (not applicable for every store): "
                f"{', '.join(md_code(g) for g in dropped)}.", ""]
    unchecked = [(s, c) for s in outcome.stores for c in s.cells if c.status == "unchecked"]
    if unchecked:
        out += ["Unchecked claims (no example judged them):", ""]
        out += [f"- {md_code(s.target)} {md_code(c.guarantee)}: {md_text(c.reason)}"
                for s, c in unchecked]
        out.append("")
    out += ["Legend:", ""]
    out += [f"- **{text}**: {meaning}." for text, meaning in LEGEND]
    out.append("")
    return out


def _store(store: StoreOutcome) -> list[str]:
    out = [md_heading(2, f"Store {md_code(store.target)}"), ""]
    if store.name and store.name != store.target:
        out += [f"Descriptor: {md_text(store.name)}", ""]
    claims = ", ".join(md_code(c) for c in store.claims) or "nothing"
    out += [f"Claims: {claims}.", "", "### Properties", ""]
    rows = [[md_text(p.name), md_text(p.status), str(p.examples), f"{p.seconds:.2f}",
             md_text(p.reason) if p.reason else "-"] for p in store.properties]
    out += _table(["property", "status", "examples", "seconds", "reason"], rows)
    out += _checkers(store)
    for example in store.violations:
        out += _counterexample("Violation", store, example)
    for example in store.observations:
        out += _counterexample("Observation", store, example)
    return out


def _checkers(store: StoreOutcome) -> list[str]:
    """Which checker decided each guarantee judged on the store."""
    rows = [[md_text(c.guarantee), md_text(cell_text(c)), md_text(c.checker)]
            for c in judged_cells(store)]
    if not rows:
        return []
    return ["### Guarantees and their checkers", "",
            *_table(["guarantee", "result", "checker"], rows)]


def _counterexample(kind: str, store: StoreOutcome, example: Counterexample) -> list[str]:
    out = [md_heading(3, f"{kind}: {md_code(example.guarantee)} in "
                         f"{md_code(example.property)} on {md_code(store_title(store))}"),
           ""]
    if example.explanation:
        out += [md_text(example.explanation), ""]
    if example.steps:
        counted = ("" if example.decisions is None
                   else f" ({example.decisions} {example.unit})")
        out += [f"Minimal counterexample{counted}:", ""]
        out += [f"{i}. {md_text(step)}" for i, step in enumerate(example.steps, 1)]
        out.append("")
    if example.verdict is not None:
        out += _verdict(example.verdict)
    if example.history is not None:
        out += _history(example.history, example.verdict)
    out += _replay(store, example)
    return out


def _verdict(verdict: Verdict) -> list[str]:
    valid = validity_text(verdict.valid)
    checked = md_text(", ".join(verdict.consistency)) or NOT_CHOSEN
    out = [f"Checker verdict: {valid} (model {md_code(verdict.model)}, checked for "
           f"{checked}).", ""]
    anomalies = all_anomalies(verdict)
    if anomalies:
        out += ["Anomalies:", ""]
        for anomaly in anomalies:
            ops = md_text(", ".join(str(i) for i in anomaly.ops))
            out.append(f"- {md_strong(anomaly.type)} (operations {ops}): "
                       f"{md_text(anomaly.explanation)}")
            out += prefix_markdown(anomaly)
        out.append("")
    if verdict.ruled_out:
        out += [f"Ruled out: {md_text(', '.join(sorted(verdict.ruled_out)))}.", ""]
    if verdict.still_possible:
        out += [f"Still possible: {md_text(', '.join(sorted(verdict.still_possible)))}.", ""]
    for note in verdict.notes:
        out += [f"Note: {md_text(note)}", ""]
    return out


def _history(history: History, verdict: Verdict | None) -> list[str]:
    marks: dict[int, list[str]] = {}
    for anomaly in all_anomalies(verdict) if verdict is not None else ():
        for op in anomaly.ops:
            if anomaly.type not in marks.setdefault(op, []):
                marks[op].append(anomaly.type)
    words = Words(history)
    count = len(history.operations)
    shown = history.operations[:HISTORY_ROWS]
    out = [f"History ({checked_count(verdict, history)}; records are "
           "invocation → completion indexes):", ""]
    rows = [[str(op.id), md_text(words.client(op)), md_text(words.key(op)) or "-",
             md_text(words.request(op)), md_text(words.answer(op)),
             md_text(op.status), f"{op.call} → {op.ret if op.ret is not None else '…'}",
             md_text(", ".join(marks.get(op.id, ())))]
            for op in shown]
    out += _table(["op", "client", "key", "operation", "answer", "status", "records",
                   "anomaly"], rows)
    if count > len(shown):
        out += [f"The first {len(shown)} of {count} operations are listed; the JSON "
                "report has them all.", ""]
    return out


def _replay(store: StoreOutcome, example: Counterexample) -> list[str]:
    out: list[str] = []
    if example.schedule is not None:
        name = replay_file_name(store.target, example.property, example.guarantee)
        out += [f"Replay: {md_code(f'replicheck replay {name}')} (from the report "
                "directory).", ""]
    else:
        out += ["Replay: no replayable schedule (the store does not offer deterministic "
                "scheduling).", ""]
    if example.reproduce:
        out += ["Reproduce with Hypothesis (paste above the test):", "",
                *md_code_block(example.reproduce, "python"), ""]
    return out
