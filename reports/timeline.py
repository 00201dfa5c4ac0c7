"""A history drawn as a timeline, in inline SVG, for the HTML reports.

:func:`timeline_html` draws one row per client process and one bar per operation, from
its invocation to its completion, in record order (the x axis ranks the record indexes
``call`` and ``ret``, so idle gaps take no room). An operation that never completed, or
completed ``info``, may take effect any time after its invocation: its bar runs to the
end of the history and is drawn as indeterminate (a tick marks an ``info``
completion). Operations an anomaly names are highlighted (outlined, on a red band).
Each bar carries its input and output as text (:func:`bar_label`: an item operation
in DynamoDB's words with its answer, :mod:`replicheck.reports.naming`; the bars widen
for it); rows are labelled by client; hovering a bar shows the operation, its answer
and status (SVG ``<title>``, no script). A failed linearizability check's partial
linearization (:class:`~replicheck.reports.linearization.PartialLinearization`) is
drawn over the bars: a numbered linearization point within each prefix operation's
bar, in order and joined, and a mark by the operation that cannot be placed. Faults
(``nemesis`` records) are vertical lines. Every string from the history goes through
:func:`~replicheck.reports.escaping.html_text` (content) or
:func:`~replicheck.reports.escaping.html_attr` (attribute values). The row labels stay
in place while the bars scroll sideways, so a history of thousands of operations
stays readable.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Final

from replicheck.histories.history import History, Operation
from replicheck.histories.wording import history_schemas
from replicheck.models.equality import same_value
from replicheck.models.items.requests import TableSchema
from replicheck.reports.escaping import html_attr, html_text
from replicheck.reports.json_report import format_value
from replicheck.reports.linearization import PartialLinearization
from replicheck.reports.naming import answer_words, client_label, operation_text, request_words

__all__ = ["TIMELINE_CSS", "bar_label", "describe_operation", "process_order", "timeline_html"]

ROW: Final = 22
BAR: Final = 14
AXIS: Final = 24
LABEL_WIDTH: Final = 96
MIN_STEP: Final = 3.0
MAX_STEP: Final = 100.0
TARGET_WIDTH: Final = 900.0
MAX_WIDTH: Final = 40000.0
VALUE_CHARS: Final = 160
CHAR_WIDTH: Final = 6.6
"""The width of one character of a bar's label (11px monospace), in pixels."""
LABEL_BUDGET: Final = 6000.0
"""The widest the bars may grow so that every label fits on its bar."""
LABEL_STEP: Final = 400.0
"""The most room one record index takes so that a label fits."""

TIMELINE_CSS: Final = """
.timeline{display:flex;border:1px solid #ccd;border-radius:4px;background:#fff;
  margin:.5em 0;max-width:100%}
.timeline .labels{flex:none;border-right:1px solid #ccd;background:#f7f7fb}
.timeline .scroll{overflow-x:auto;overflow-y:hidden;flex:1 1 auto}
.timeline svg{display:block}
.timeline text{font:11px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:#222}
.timeline .axis text{fill:#667;font-size:10px}
.timeline .axis line{stroke:#dde}
.timeline .stripe{fill:#f4f5fa}
.timeline .op rect.bar{stroke-width:1}
.timeline .op.ok rect.bar{fill:#8fc3ea;stroke:#2b6f9e}
.timeline .op.fail rect.bar{fill:#e4e4e4;stroke:#888}
.timeline .op.info rect.bar{stroke:#b07c00;stroke-dasharray:4 2}
.timeline .op.anomaly rect.bar{stroke:#c00;stroke-width:2.5}
.timeline .op.anomaly.ok rect.bar{fill:#f5a3a3}
.timeline .op:hover rect.bar{stroke:#000;stroke-width:2}
.timeline .op .ret{stroke:#b07c00;stroke-width:2;fill:none}
.timeline .op .halo{fill:#c00;opacity:.16}
.timeline .fault{stroke:#a0a;stroke-width:1.5;stroke-dasharray:3 3}
.timeline .op.unplaceable rect.bar{stroke:#c00;stroke-width:2.5;stroke-dasharray:5 2}
.timeline .linearization path{stroke:#1a7f37;stroke-width:1.5;fill:none;opacity:.85}
.timeline .linearization circle{fill:#1a7f37;stroke:#fff;stroke-width:1}
.timeline .linearization text{fill:#1a7f37;font-size:9px;font-weight:bold}
.timeline .linearization text.unplaceable-mark{fill:#c00;font-size:13px}
.timeline-key{font-size:12px;color:#445;margin:.2em 0 .6em}
.timeline-key span{display:inline-block;width:18px;height:10px;margin:0 4px 0 12px;
  vertical-align:middle;border:1px solid #2b6f9e}
.timeline-key .k-ok{background:#8fc3ea}
.timeline-key .k-fail{background:#e4e4e4;border-color:#888}
.timeline-key .k-info{background:repeating-linear-gradient(45deg,#ffe39a 0 3px,#fff 3px 6px);
  border:1px dashed #b07c00}
.timeline-key .k-anomaly{background:#f5a3a3;border:2px solid #c00}
.timeline-key .k-lin{width:10px;border:none;border-radius:5px;background:#1a7f37}
.timeline-key .k-unplaceable{border:2px dashed #c00;background:#fff}
"""
"""The style sheet the timeline's classes need (the page inlines it once)."""


def process_order(processes: Sequence[Hashable] | set[Hashable]) -> list[Hashable]:
    """Processes in display order: integer ids ascending, then the others by name."""
    return sorted(set(processes), key=lambda p: (0, p, "") if isinstance(p, int)
                  and not isinstance(p, bool) else (1, 0, str(p)))


def _clip(text: str, limit: int = VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def describe_operation(op: Operation, schemas: Mapping[str, TableSchema] | None = None
                       ) -> str:
    """The operation in a few lines of plain text (unescaped): id and client
    (:func:`~replicheck.reports.naming.client_label`), what it asked and what it was
    answered in DynamoDB's words (:class:`~replicheck.reports.naming.Words`), status
    and record indexes."""
    lines = [f"op {op.id} · {client_label(op)}", _clip(request_words(op, schemas)),
             f"-> {_clip(answer_words(op, schemas))}"]
    status = {"ok": "ok (took effect)", "fail": "fail (did not take effect)",
              "info": "info (indeterminate)"}.get(op.status, op.status)
    if op.error is not None:
        status += f", error {_clip(format_value(op.error))}"
    lines.append(f"status: {status}")
    ret = "never completed" if op.ret is None else str(op.ret)
    lines.append(f"records: {op.call} → {ret}")
    return "\n".join(lines)


def bar_label(op: Operation, schemas: Mapping[str, TableSchema] | None = None) -> str:
    """The text on an operation's bar: its function, key and input, then ``→`` and what
    it returned (``?`` when indeterminate, ``fail`` and the error when it failed); an
    output that only echoes the input is left out. A transaction shows its
    micro-operations (with the values read once it completed ``ok``). An operation of
    an item history (``schemas`` given: the history's tables) reads in DynamoDB's words
    with its answer (:func:`~replicheck.reports.naming.operation_text`)."""
    if schemas is not None:
        return operation_text(op, schemas)
    key = "" if op.key is None else f" {format_value(op.key)}"
    done = op.ret is not None and op.status != "info"
    if _is_transaction(op.input) or _is_transaction(op.output):
        value = op.output if op.status == "ok" and _is_transaction(op.output) else op.input
        text = "; ".join(" ".join(_short(part) for part in micro) for micro in value)
        shown_output = ""
    else:
        text = f"{op.f}{key}" + ("" if op.input is None else f" {format_value(op.input)}")
        echoes = op.input is not None and (op.output is None
                                           or same_value(op.output, op.input))
        shown_output = "" if echoes else f" → {format_value(op.output)}"
    if not done:
        return f"{text} → ?"
    if op.status == "fail":
        error = "" if op.error is None else f" {_short(op.error)}"
        return f"{text} → fail{error}"
    return text + shown_output


def _is_transaction(value: object) -> bool:
    """A list of micro-operations ``[f, key, value]`` (Elle's transactions)."""
    return (isinstance(value, list | tuple) and bool(value)
            and all(isinstance(m, list | tuple) and len(m) == 3 and isinstance(m[0], str)
                    for m in value))


def _short(value: object) -> str:
    if value is None:
        return "_"
    return value if isinstance(value, str) else format_value(value)


def timeline_html(history: History, highlight: Mapping[int, Sequence[str]] | None = None,
                  *, ident: str = "t", linearization: PartialLinearization | None = None
                  ) -> str:
    """The history's timeline as an HTML fragment (a ``div.timeline`` holding inline
    SVG). ``highlight`` maps operation ids to the anomaly types that name them;
    ``ident`` makes the fragment's ids unique within a page. Each client row is an SVG
    group with a ``data-process`` attribute; each bar a group with ``data-op`` and the
    id ``<ident>-op<operation id>`` (a link target), holding a ``text`` with its
    :func:`bar_label` (the bars widen so that labels fit, within ``LABEL_BUDGET``
    pixels; past that a label is cut short, and the hover text has it whole).

    ``linearization`` (a failed linearizability check's partial linearization) is drawn
    over the bars in a ``g.linearization``: a ``circle.lin-point`` (``data-op``,
    ``data-step`` from 1) at a linearization point of each prefix operation, within its
    bar and in prefix order, joined by a ``path``; the operation that cannot be placed
    has the class ``unplaceable`` and a ``text.unplaceable-mark`` beside its bar."""
    marks = dict(highlight or {})
    ops = history.operations
    processes = process_order({op.process for op in ops})
    if not processes:
        return '<p class="empty">The history holds no client operations.</p>'
    row_of = {p: i for i, p in enumerate(processes)}
    schemas = history_schemas(history)
    points = sorted({op.call for op in ops}
                    | {op.ret for op in ops if op.ret is not None}
                    | {f.index for f in history.faults})
    rank = {v: i for i, v in enumerate(points)}
    step = max(MIN_STEP, min(MAX_STEP, TARGET_WIDTH / max(1, len(points))))
    texts = {op.id: bar_label(op, schemas) for op in ops}
    need = 0.0
    for op in ops:
        last = (len(points) + 0.5 if op.ret is None or op.status == "info"
                else rank[op.ret])
        need = max(need, (len(texts[op.id]) * CHAR_WIDTH + 8) / max(0.5, last - rank[op.call]))
    step = max(step, min(need, LABEL_STEP, LABEL_BUDGET / max(1, len(points))))
    step = min(step, MAX_WIDTH / max(1, len(points)))  # huge histories: thinner bars
    pad = 8.0
    end = pad + (len(points) + 0.5) * step

    def x(index: int) -> float:
        return pad + rank[index] * step

    stuck = linearization.unplaceable if linearization is not None else None

    width = round(end + pad + 24)
    height = AXIS + ROW * len(processes) + 4
    parts: list[str] = [
        f'<svg class="bars" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="timeline of {len(ops)} operations">',
        f'<defs><pattern id="{html_attr(ident)}-ind" patternUnits="userSpaceOnUse" width="6" '
        f'height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        f'<rect width="3" height="6" fill="#ffe39a"/></pattern></defs>',
    ]
    # axis: record indexes, one tick every ~70 px
    every = max(1, round(70 / step))
    parts.append('<g class="axis">')
    for i in range(0, len(points), every):
        px = pad + i * step
        parts.append(f'<line x1="{px:.1f}" y1="{AXIS - 4}" x2="{px:.1f}" y2="{height}"/>'
                     f'<text x="{px + 2:.1f}" y="{AXIS - 8}">{points[i]}</text>')
    parts.append("</g>")
    by_process: dict[Hashable, list[Operation]] = {p: [] for p in processes}
    for op in ops:
        by_process[op.process].append(op)
    for p in processes:
        row = row_of[p]
        y = AXIS + row * ROW
        parts.append(f'<g class="row" data-process="{html_attr(p)}" '
                     f'transform="translate(0,{y})">')
        if row % 2:
            parts.append(f'<rect class="stripe" x="0" y="0" width="{width}" height="{ROW}"/>')
        for op in by_process[p]:
            parts.append(_bar(op, x, end, marks.get(op.id, ()), ident, texts[op.id],
                              schemas, unplaceable=op.id == stuck))
        parts.append("</g>")
    if linearization is not None:
        parts.append(_linearization(linearization, ops, row_of, x, end))
    for fault in history.faults:
        fx = x(fault.index)
        title = f"fault: {fault.f} {_clip(format_value(fault.value))} (record {fault.index})"
        parts.append(f'<line class="fault" x1="{fx:.1f}" y1="{AXIS}" x2="{fx:.1f}" '
                     f'y2="{height}"><title>{html_text(title)}</title></line>')
    parts.append("</svg>")
    labels = [f'<svg class="labels-svg" xmlns="http://www.w3.org/2000/svg" '
              f'width="{LABEL_WIDTH}" height="{height}">'
              f'<text x="6" y="{AXIS - 8}" class="axis-title">record</text>']
    for p in processes:
        y = AXIS + row_of[p] * ROW
        if row_of[p] % 2:
            labels.append(f'<rect class="stripe" x="0" y="{y}" width="{LABEL_WIDTH}" '
                          f'height="{ROW}"/>')
        labels.append(f'<text x="6" y="{y + ROW / 2 + 4:.1f}" data-label="{html_attr(p)}">'
                      f'{html_text(_clip(client_label(by_process[p][0]), 14))}</text>')
    labels.append("</svg>")
    key = ('<div class="timeline-key">Bars run from invocation to completion:'
           '<span class="k-ok"></span>ok<span class="k-fail"></span>fail'
           '<span class="k-info"></span>indeterminate (runs to the end)'
           '<span class="k-anomaly"></span>named by an anomaly'
           + ('<span class="k-lin"></span>linearization point (numbered in the order of '
              'the longest linearizable prefix)<span class="k-unplaceable"></span>cannot '
              'be placed next' if linearization is not None else "")
           + '. Hover a bar for details.</div>')
    return (f'<div class="timeline" id="{html_attr(ident)}"><div class="labels">{"".join(labels)}'
            f'</div><div class="scroll">{"".join(parts)}</div></div>{key}')


def _extent(op: Operation, x: Callable[[int], float], end: float, wide: bool
            ) -> tuple[float, float]:
    """Where an operation's bar starts and ends."""
    x1 = x(op.call)
    indeterminate = op.status == "info" or op.ret is None
    x2 = end if op.ret is None or indeterminate else x(op.ret)
    return x1, max(x2, x1 + (8 if wide else 2))


def _linearization(lin: PartialLinearization, ops: Sequence[Operation],
                   row_of: Mapping[Hashable, int], x: Callable[[int], float], end: float
                   ) -> str:
    """The partial linearization over the bars: a point within each prefix operation's
    bar, each at or after the one before, joined in order; a mark by the operation that
    cannot be placed."""
    by_id = {op.id: op for op in ops}
    top = (ROW - BAR) / 2
    points: list[tuple[int, int, float, float]] = []
    previous = float("-inf")
    for step, oid in enumerate(lin.prefix, 1):
        op = by_id.get(oid)
        if op is None:
            continue
        x1, x2 = _extent(op, x, end, False)
        lo, hi = x1 + 2, max(x1 + 2, x2 - 2)
        px = min(max(lo, previous + 3), hi)
        previous = px
        points.append((step, oid, px, AXIS + row_of[op.process] * ROW + top))
    out = ['<g class="linearization">']
    if len(points) > 1:
        path = " ".join(f"{'M' if n == 0 else 'L'}{px:.1f},{py:.1f}"
                        for n, (_s, _o, px, py) in enumerate(points))
        out.append(f'<path d="{path}"/>')
    for step, oid, px, py in points:
        state = lin.states[step - 1] if step - 1 < len(lin.states) else ""
        title = f"step {step} of the longest linearizable prefix: op {oid}" + (
            f"; state after it: {state}" if state else "")
        out.append(f'<circle class="lin-point" data-op="{oid}" data-step="{step}" '
                   f'cx="{px:.1f}" cy="{py:.1f}" r="3.5"><title>{html_text(title)}</title>'
                   f'</circle><text class="lin-step" x="{px + 4:.1f}" y="{py - 1:.1f}">'
                   f"{step}</text>")
    stuck = by_id.get(lin.unplaceable) if lin.unplaceable is not None else None
    if stuck is not None:
        x1, _x2 = _extent(stuck, x, end, True)
        y = AXIS + row_of[stuck.process] * ROW + ROW / 2 + 4
        out.append(f'<text class="unplaceable-mark" data-op="{stuck.id}" '
                   f'x="{max(0.0, x1 - 10):.1f}" y="{y:.1f}">✗<title>op {stuck.id} cannot '
                   f"be placed after the prefix</title></text>")
    out.append("</g>")
    return "".join(out)


def _bar(op: Operation, x: Callable[[int], float], end: float, anomalies: Sequence[str],
         ident: str, label: str, schemas: Mapping[str, TableSchema] | None = None, *,
         unplaceable: bool = False) -> str:
    x1, x2 = _extent(op, x, end, bool(anomalies))
    indeterminate = op.status == "info" or op.ret is None
    top = (ROW - BAR) / 2
    status = op.status if op.ret is not None else "info"
    cls = (f"op {html_attr(status)}" + (" anomaly" if anomalies else "")
           + (" unplaceable" if unplaceable else ""))
    title = describe_operation(op, schemas)
    fill = f' fill="url(#{html_attr(ident)}-ind)"' if indeterminate else ""
    if anomalies:
        title += "\nnamed by: " + ", ".join(anomalies)
    out = [f'<g class="{cls}" id="{html_attr(ident)}-op{op.id}" data-op="{op.id}">'
           f'<title>{html_text(title)}</title>'
           + (f'<rect class="halo" x="{x1 - 3:.1f}" y="0" width="{x2 - x1 + 6:.1f}" '
              f'height="{ROW}"/>' if anomalies else "")
           + f'<rect class="bar" x="{x1:.1f}" y="{top:.1f}" width="{x2 - x1:.1f}" '
           f'height="{BAR}" rx="2"{fill}/>']
    if indeterminate and op.ret is not None:
        rx = x(op.ret)
        out.append(f'<path class="ret" d="M{rx:.1f},{top:.1f} v3 M{rx:.1f},'
                   f'{top + BAR:.1f} v-3"/>')
    room = int((x2 - x1 - 6) / CHAR_WIDTH)
    if room >= 3:
        if len(label) > room:
            label = label[:max(1, room - 1)] + "…"
        out.append(f'<text class="label" x="{x1 + 3:.1f}" y="{top + BAR - 3:.1f}">'
                   f"{html_text(label)}</text>")
    out.append("</g>")
    return "".join(out)
