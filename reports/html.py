"""The HTML reports: ``replicheck verify``'s and ``replicheck check --html``'s.

Each is ONE self-contained file: inline CSS and SVG, no script, no font, image or
style sheet fetched from anywhere, so it opens offline and can be attached to a ticket.
:func:`render_html` formats a :class:`~replicheck.properties.outcomes.SuiteOutcome`
like the Markdown report (header, claims-versus-observed matrix with legend, property
runs, every violation and observation) and adds, for each counterexample with a
history, a timeline of its operations (:mod:`replicheck.reports.timeline`) and its
dependency cycles as small graphs (:mod:`replicheck.reports.graphs`).
:func:`render_check_html` draws the same for one checked history and its verdict. The
renderers only format values; every string from a store or a history goes through the
:mod:`replicheck.reports.escaping` function of the HTML context it lands in (text,
attribute value, ``<pre>``), so the page's elements and attributes are the template's
whatever the strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from replicheck.histories.history import History
from replicheck.histories.verdict import NOT_CHOSEN, Anomaly, Verdict
from replicheck.properties.outcomes import Counterexample, StoreOutcome, SuiteOutcome
from replicheck.reports.escaping import html_attr, html_pre, html_text
from replicheck.reports.graphs import GRAPH_CSS, KIND_COLOURS, cycle_graph_svg
from replicheck.reports.linearization import partial_linearization, prefix_html
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
from replicheck.reports.timeline import TIMELINE_CSS, timeline_html

__all__ = ["render_check_html", "render_html"]

PAGE_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
  color:#1d1d24;margin:0 auto;padding:1em 1.5em 3em;max-width:1400px;background:#fbfbfd}
h1{font-size:1.6em;margin:.3em 0}h2{margin-top:1.6em;border-bottom:1px solid #dde}
h3{margin-top:1.3em}h4{margin:1em 0 .3em}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
pre{background:#f0f0f5;padding:.5em .8em;border-radius:4px;overflow-x:auto}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #d5d5e0;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#eef0f6}
.matrix-wrap{overflow-x:auto}
.matrix th.g{font-weight:600;font-size:.8em;min-width:5.5em;max-width:8em;
  vertical-align:bottom;overflow-wrap:break-word}
.matrix td{font-size:.85em;min-width:5.5em}
.st-holds{background:#dff3e2}.st-violated{background:#f9c9c9;font-weight:bold}
.st-observed{background:#ffeab0}.st-unknown{background:#dfe6f3}
.st-not-applicable{background:#f3f3f3;color:#888}
.st-unchecked{background:#fde3c8;font-weight:bold}
.st-holds.unclaimed{background:#eef8ef;color:#35623d}
.result{display:inline-block;padding:.15em .6em;border-radius:4px;font-weight:bold}
.result.holds{background:#2e7d32;color:#fff}.result.violated{background:#c62828;color:#fff}
.result.unknown{background:#546e9a;color:#fff}.result.unchecked{background:#795548;color:#fff}
.facts td:first-child{font-weight:600;background:#f4f5fa}
.p-passed{color:#2e7d32}.p-failed,.p-error{color:#c62828;font-weight:bold}
.p-skipped{color:#777}
.example{border:1px solid #dde;border-left:5px solid #c62828;border-radius:4px;
  padding:.2em 1em .8em;margin:1em 0;background:#fff}
.example.observation{border-left-color:#e0a800}
.anomaly-type{font-weight:bold;color:#a00}
.kinds span{display:inline-block;margin-right:1em}
.muted{color:#666}
.matrix .checker{font-size:.8em;color:#555;margin-top:.15em}
"""


def _page(title: str, body: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\">"
            f"<title>{html_text(title)}</title><style>{PAGE_CSS}{TIMELINE_CSS}{GRAPH_CSS}"
            "</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


class _Ids:
    """Unique, deterministic element ids within one page."""

    def __init__(self) -> None:
        self.count = 0

    def next(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"


def render_html(outcome: SuiteOutcome) -> str:
    """The ``replicheck verify`` report as one self-contained HTML page."""
    ids = _Ids()
    result = overall_result(outcome)
    status = outcome.exit_status
    badge = result.replace(" and ", " ")  # one class per word: unknown unchecked
    body = ["<h1>replicheck verify report</h1>",
            f'<p><span class="result {html_attr(badge)}">{html_text(result)}</span> exit '
            f"status {status}: {html_text(EXIT_MEANINGS.get(status, ''))}.</p>",
            '<table class="facts">',
            f"<tr><td>Profile</td><td><code>{html_text(outcome.profile)}</code></td></tr>",
            f"<tr><td>Started</td><td>{html_text(outcome.started or 'unknown')}</td></tr>",
            f"<tr><td>Total time</td><td>{outcome.seconds:.2f} s</td></tr>",
            f"<tr><td>Stores</td><td>{len(outcome.stores)}</td></tr>",
            "</table>"]
    body += _matrix(outcome)
    for store in outcome.stores:
        body += _store(store, ids)
    return _page(f"replicheck verify: {result}", body)


def _matrix(outcome: SuiteOutcome) -> list[str]:
    shown, dropped = matrix_columns(outcome)
    out = ["<h2>Claims versus observed</h2>", '<div class="matrix-wrap"><table class="matrix">',
           "<tr><th>store</th>" + "".join(f'<th class="g">{html_text(g)}</th>' for g in shown)
           + "</tr>"]
    for store in outcome.stores:
        cells = []
        for guarantee in shown:
            cell = store.cell(guarantee)
            status = "not-applicable" if cell is None else cell.status
            unclaimed = " unclaimed" if cell is not None and not cell.claimed else ""
            title = f"{store.target} · {guarantee}"
            if cell is not None and cell.reason:
                title += f": {cell.reason}"
            checker = ""
            if cell is not None and cell.checker and status != "not-applicable":
                title += f" (checker: {cell.checker})"
                checker = f'<div class="checker">{html_text(cell.checker)}</div>'
            cells.append(f'<td class="st-{html_attr(status)}{unclaimed}" '
                         f'title="{html_attr(title)}">{html_text(cell_text(cell))}'
                         f"{checker}</td>")
        out.append(f"<tr><th><code>{html_text(store.target)}</code></th>{''.join(cells)}"
                   "</tr>")
    out.append("</table></div>")
    if dropped:
        out.append("<p class=\"muted\">Columns left out (not applicable for every store): "
                   + ", ".join(f"<code>{html_text(g)}</code>" for g in dropped) + ".</p>")
    unchecked = [(s, c) for s in outcome.stores for c in s.cells if c.status == "unchecked"]
    if unchecked:
        out.append("<h4>Unchecked claims (no example judged them)</h4><ul>")
        out += [f"<li><code>{html_text(s.target)}</code> <code>{html_text(c.guarantee)}"
                f"</code>: {html_text(c.reason)}</li>" for s, c in unchecked]
        out.append("</ul>")
    out.append("<h4>Legend</h4><ul class=\"legend\">")
    for (text, meaning), status in zip(LEGEND, ("holds", "holds unclaimed", "violated",
                                                "observed", "unknown", "unchecked",
                                                "not-applicable"),
                                       strict=True):
        first, *rest = status.split()
        cls = f"st-{first}" + "".join(f" {r}" for r in rest)
        out.append(f'<li><span class="{cls}">{html_text(text)}</span>: '
                   f"{html_text(meaning)}.</li>")
    out.append("</ul>")
    return out


def _store(store: StoreOutcome, ids: _Ids) -> list[str]:
    out = [f"<h2>Store <code>{html_text(store.target)}</code></h2>"]
    if store.name and store.name != store.target:
        out.append(f"<p>Descriptor: {html_text(store.name)}</p>")
    claims = ", ".join(f"<code>{html_text(c)}</code>" for c in store.claims) or "nothing"
    out += [f"<p>Claims: {claims}.</p>", "<h3>Properties</h3>",
            "<table><tr><th>property</th><th>status</th><th>examples</th><th>seconds</th>"
            "<th>reason</th></tr>"]
    for run in store.properties:
        out.append(f"<tr><td>{html_text(run.name)}</td>"
                   f'<td class="p-{html_attr(run.status)}">{html_text(run.status)}</td>'
                   f"<td>{run.examples}</td><td>{run.seconds:.2f}</td>"
                   f"<td>{html_text(run.reason) or '-'}</td></tr>")
    out.append("</table>")
    judged = judged_cells(store)
    if judged:
        out += ["<h3>Guarantees and their checkers</h3>", '<table class="checkers">',
                "<tr><th>guarantee</th><th>result</th><th>checker</th></tr>"]
        out += [f"<tr><td><code>{html_text(c.guarantee)}</code></td>"
                f'<td class="st-{html_attr(c.status)}">{html_text(cell_text(c))}</td>'
                f"<td>{html_text(c.checker)}</td></tr>" for c in judged]
        out.append("</table>")
    for example in store.violations:
        out += _counterexample("Violation", store, example, ids)
    for example in store.observations:
        out += _counterexample("Observation", store, example, ids)
    return out


def _counterexample(kind: str, store: StoreOutcome, example: Counterexample, ids: _Ids
                    ) -> list[str]:
    out = [f'<section class="example {kind.lower()}">',
           f"<h3>{html_text(kind)}: <code>{html_text(example.guarantee)}</code> in "
           f"<code>{html_text(example.property)}</code> on "
           f"<code>{html_text(store_title(store))}</code></h3>"]
    if example.explanation:
        out.append(f"<p>{html_text(example.explanation)}</p>")
    if example.steps:
        counted = ("" if example.decisions is None
                   else f" ({example.decisions} {example.unit})")
        out.append(f"<h4>Minimal counterexample{html_text(counted)}</h4><ol class=\"steps\">")
        out += [f"<li>{html_text(step)}</li>" for step in example.steps]
        out.append("</ol>")
    timeline = ids.next("tl") if example.history is not None else None
    if example.verdict is not None:
        out += _verdict(example.verdict, timeline, example.history)
    if example.history is not None and timeline is not None:
        out += _drawings(example.history, example.verdict, ids, timeline)
    if example.schedule is not None:
        name = replay_file_name(store.target, example.property, example.guarantee)
        out.append(f"<p>Replay (from the report directory): <code>replicheck replay "
                   f"{html_text(name)}</code></p>")
    else:
        out.append('<p class="muted">No replayable schedule (the store does not offer '
                   "deterministic scheduling).</p>")
    if example.reproduce:
        out.append("<p>Reproduce with Hypothesis (paste above the test):</p>"
                   f"<pre>{html_pre(example.reproduce)}</pre>")
    out.append("</section>")
    return out


def _op_links(ops: Sequence[int], timeline: str | None) -> str:
    if timeline is None:
        return html_text(", ".join(str(i) for i in ops))
    return ", ".join(f'<a href="#{html_attr(timeline)}-op{html_attr(i)}">{html_text(i)}</a>'
                     for i in ops)


def _verdict(verdict: Verdict, timeline: str | None, history: History | None = None
             ) -> list[str]:
    checked = ", ".join(verdict.consistency) or NOT_CHOSEN
    out = [f"<p>Checker verdict: <b>{html_text(validity_text(verdict.valid))}</b> (model "
           f"<code>{html_text(verdict.model)}</code>, checked for {html_text(checked)}; "
           f"{checked_count(verdict, history)}).</p>"]
    anomalies = all_anomalies(verdict)
    if anomalies:
        out.append("<ul class=\"anomalies\">")
        for anomaly in anomalies:
            out.append(f'<li><span class="anomaly-type">{html_text(anomaly.type)}</span> '
                       f"(operations {_op_links(anomaly.ops, timeline)}): "
                       f"{html_text(anomaly.explanation)}</li>")
        out.append("</ul>")
        out += [shown for shown in (prefix_html(a, timeline) for a in anomalies) if shown]
    if verdict.ruled_out:
        out.append(f"<p>Ruled out: {html_text(', '.join(sorted(verdict.ruled_out)))}.</p>")
    if verdict.still_possible:
        out.append("<p>Still possible: "
                   f"{html_text(', '.join(sorted(verdict.still_possible)))}.</p>")
    out += [f'<p class="muted">Note: {html_text(note)}</p>' for note in verdict.notes]
    return out


def _drawings(history: History, verdict: Verdict | None, ids: _Ids, timeline: str
              ) -> list[str]:
    anomalies = all_anomalies(verdict) if verdict is not None else ()
    marks: dict[int, list[str]] = {}
    for anomaly in anomalies:
        for op in anomaly.ops:
            if anomaly.type not in marks.setdefault(op, []):
                marks[op].append(anomaly.type)
    out = [f"<h4>Timeline ({checked_count(verdict, history)}, "
           f"{len({op.process for op in history.operations})} processes)</h4>",
           timeline_html(history, marks, ident=timeline,
                         linearization=partial_linearization(anomalies)),
           *_history_table(history, marks)]
    graphs = list(_graphs(anomalies, history, ids))
    if graphs:
        kinds = "".join(f'<span style="color:{c}">&#8594; {html_text(k)}</span>'
                        for k, c in KIND_COLOURS.items())
        out += ["<h4>Dependency cycles</h4>",
                f'<p class="kinds muted">Arrows: {kinds} (hover a node for its '
                "operation)</p>", *graphs]
    return out


def _history_table(history: History, marks: dict[int, list[str]]) -> list[str]:
    """The operations as a table, in the words of the Markdown report's (client, key,
    operation, answer), folded under its summary."""
    words = Words(history)
    shown = history.operations[:HISTORY_ROWS]
    count = len(history.operations)
    out = [f'<details class="history"><summary>History table ({count} '
           f"operation{'s' if count != 1 else ''})</summary><table>"
           "<tr><th>op</th><th>client</th><th>key</th><th>operation</th><th>answer</th>"
           "<th>status</th><th>records</th><th>anomaly</th></tr>"]
    for op in shown:
        ret = op.ret if op.ret is not None else "…"
        out.append(f"<tr><td>{op.id}</td><td>{html_text(words.client(op))}</td>"
                   f"<td>{html_text(words.key(op) or '-')}</td>"
                   f"<td>{html_text(words.request(op))}</td>"
                   f"<td>{html_text(words.answer(op))}</td>"
                   f"<td>{html_text(op.status)}</td><td>{op.call} → {ret}</td>"
                   f"<td>{html_text(', '.join(marks.get(op.id, ())))}</td></tr>")
    out.append("</table>")
    if count > len(shown):
        out.append(f'<p class="muted">The first {len(shown)} of {count} operations are '
                   "listed; the JSON report has them all.</p>")
    out.append("</details>")
    return out


def _graphs(anomalies: Sequence[Anomaly], history: History, ids: _Ids) -> Iterator[str]:
    for anomaly in anomalies:
        svg = cycle_graph_svg(anomaly, history, ident=ids.next("cy"))
        if svg is not None:
            yield (f'<figure style="display:inline-block;margin:0 1em 0 0">{svg}'
                   f"<figcaption>{html_text(anomaly.type)}: operations "
                   f"{html_text(', '.join(str(o) for o in anomaly.ops))}</figcaption></figure>")


def render_check_html(history: History, verdict: Verdict, *, source: str | None = None
                      ) -> str:
    """The result of ``replicheck check`` on one history as one self-contained HTML
    page: the verdict (anomalies and their explanations, models ruled out and still
    possible, notes, cost), the history's timeline with the anomalies' operations
    highlighted, and each dependency cycle as a graph. ``source`` names the history
    (e.g. its file)."""
    ids = _Ids()
    valid = validity_text(verdict.valid)
    result = {"valid": "holds", "not valid": "violated"}.get(valid, "unknown")
    title = f"replicheck check: {source}" if source else "replicheck check"
    body = [f"<h1>{html_text(title)}</h1>",
            f'<p><span class="result {result}">{html_text(valid)}</span></p>']
    timeline = ids.next("tl")
    body += _verdict(verdict, timeline, history)
    stats = verdict.stats
    body.append(f'<p class="muted">{checked_count(verdict, history)}'
                + (" checked" if stats.operations == len(history.operations) else "")
                + f" in {stats.seconds:.3f} s"
                + (f", {stats.states} states explored" if stats.states else "") + ".</p>")
    if history.skipped:
        body.append("<h4>Skipped records</h4><ul>")
        body += [f"<li>{html_text(e)}</li>" for e in history.skipped]
        body.append("</ul>")
    body += _drawings(history, verdict, ids, timeline)
    return _page(title, body)
