"""Dependency cycles drawn as small graphs, in inline SVG, for the HTML reports.

A cycle anomaly (Elle's G0, G1c, G-single, G2-item, ..., or a causal cycle) carries
its cycle in ``Anomaly.data``: under ``"cycle"`` (or ``"edges"``) either a list of
steps, each an object with ``from`` and ``to`` (operation ids), ``kind`` (``ww``,
``wr``, ``rw``, ``process``, ``realtime``) and the ``key`` (or ``item``) it is about, or
a plain list of operation ids read as a closed walk. :func:`cycle_edges` reads that;
:func:`cycle_graph_svg` draws the operations as nodes around a circle and the
dependencies as labelled arrows, each kind in its own colour. Every string from the
anomaly or the history goes through :func:`~replicheck.reports.escaping.html_text`
(content) or :func:`~replicheck.reports.escaping.html_attr` (attribute values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from replicheck.histories.history import History
from replicheck.histories.verdict import Anomaly
from replicheck.histories.wording import history_schemas
from replicheck.reports.escaping import html_attr, html_text, text_of
from replicheck.reports.json_report import format_value
from replicheck.reports.timeline import describe_operation

__all__ = ["GRAPH_CSS", "KIND_COLOURS", "Edge", "cycle_edges", "cycle_graph_svg"]

KIND_COLOURS: Final[dict[str, str]] = {
    "ww": "#1f5fbf", "wr": "#218a3b", "rw": "#d0701a", "process": "#666666",
    "realtime": "#8a3bb5",
}
"""The colour of each dependency kind's arrows (others are drawn black)."""

NODE: Final = 17.0

GRAPH_CSS: Final = """
.cycle-graph{display:inline-block;vertical-align:top;margin:.3em 1em .6em 0;
  border:1px solid #ccd;border-radius:4px;background:#fff}
.cycle-graph text{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.cycle-graph .node circle{fill:#fde2e2;stroke:#c00;stroke-width:2}
.cycle-graph .node text{text-anchor:middle;font-weight:bold;fill:#600}
.cycle-graph .edge path{fill:none;stroke-width:1.8}
.cycle-graph .edge text{paint-order:stroke;stroke:#fff;stroke-width:3px}
"""
"""The style sheet the graphs' classes need (the page inlines it once)."""


@dataclass(frozen=True)
class Edge:
    """One dependency of a cycle: from operation ``src`` to ``dst``, of ``kind``, with
    a short ``label`` (kind and key)."""

    src: int
    dst: int
    kind: str
    label: str


def cycle_edges(anomaly: Anomaly) -> tuple[Edge, ...]:
    """The dependencies of the anomaly's cycle, or () when its data holds none."""
    data: Mapping[str, Any] = anomaly.data or {}
    raw = data.get("cycle", data.get("edges"))
    if not isinstance(raw, list | tuple) or not raw:
        return ()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
        ids = list(raw)
        return tuple(Edge(a, b, "", "") for a, b in zip(ids, [*ids[1:], ids[0]], strict=True))
    edges: list[Edge] = []
    for step in raw:
        if isinstance(step, Mapping) and "from" in step and "to" in step:
            src, dst, kind = step["from"], step["to"], text_of(step.get("kind") or "")
            about = step.get("key", step.get("item"))
        elif isinstance(step, list | tuple) and len(step) >= 2:
            src, dst = step[0], step[1]
            kind = text_of(step[2]) if len(step) > 2 else ""
            about = step[3] if len(step) > 3 else None
        else:
            return ()
        if not (isinstance(src, int) and isinstance(dst, int)):
            return ()
        shown = about if isinstance(about, str) else format_value(about)
        label = kind if about is None else f"{kind} {shown}".strip()
        edges.append(Edge(src, dst, kind, label))
    return tuple(edges)


def cycle_graph_svg(anomaly: Anomaly, history: History | None = None, *,
                    ident: str = "g") -> str | None:
    """The anomaly's cycle as an inline SVG element (``svg.cycle-graph``): its
    operations as nodes around a circle (hover: the operation, in the words of the
    timeline and the history table), its dependencies as
    arrows labelled with kind and key. None when the anomaly holds no cycle. ``ident``
    makes the SVG ids unique within a page."""
    edges = cycle_edges(anomaly)
    if not edges:
        return None
    nodes: list[int] = []
    for edge in edges:
        for op in (edge.src, edge.dst):
            if op not in nodes:
                nodes.append(op)
    n = len(nodes)
    radius = 0.0 if n == 1 else max(62.0, 34.0 * n / math.pi)
    margin = 125.0  # room for a label of 24 characters on either side
    size = 2 * (radius + margin)
    centre = size / 2
    where: dict[int, tuple[float, float]] = {}
    for i, op in enumerate(nodes):
        angle = -math.pi / 2 + 2 * math.pi * i / n
        where[op] = (centre + radius * math.cos(angle), centre + radius * math.sin(angle))
    kinds = sorted({e.kind for e in edges})
    out = [f'<svg class="cycle-graph" xmlns="http://www.w3.org/2000/svg" '
           f'width="{size:.0f}" height="{size:.0f}" viewBox="0 0 {size:.0f} {size:.0f}" '
           f'role="img" aria-label="{html_attr(anomaly.type)} cycle of {n} operations">'
           "<defs>"]
    for k, kind in enumerate(kinds):
        colour = KIND_COLOURS.get(kind, "#000000")
        out.append(f'<marker id="{html_attr(ident)}-a{k}" viewBox="0 0 10 10" refX="9" refY="5" '
                   f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                   f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>')
    out.append("</defs>")
    ops_by_id = {op.id: op for op in history.operations} if history is not None else {}
    schemas = history_schemas(history) if history is not None else None
    for edge in edges:
        colour = KIND_COLOURS.get(edge.kind, "#000000")
        marker = f"{html_attr(ident)}-a{kinds.index(edge.kind)}"
        reverse = any(e.src == edge.dst and e.dst == edge.src for e in edges)
        path, lx, ly, anchor = _arrow(where[edge.src], where[edge.dst], reverse=reverse)
        title = f"op {edge.src} → op {edge.dst}" + (f": {edge.label}" if edge.label else "")
        out.append(f'<g class="edge" data-kind="{html_attr(edge.kind)}">'
                   f'<title>{html_text(title)}</title>'
                   f'<path d="{path}" stroke="{colour}" marker-end="url(#{marker})"/>')
        if edge.label:
            out.append(f'<text x="{lx:.1f}" y="{ly:.1f}" fill="{colour}" '
                       f'text-anchor="{anchor}">'
                       f'{html_text(edge.label[:24])}</text>')
        out.append("</g>")
    for op_id in nodes:
        px, py = where[op_id]
        node_op = ops_by_id.get(op_id)
        title = (describe_operation(node_op, schemas) if node_op is not None
                 else f"op {op_id}")
        out.append(f'<g class="node" data-op="{op_id}"><title>{html_text(title)}</title>'
                   f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{NODE}"/>'
                   f'<text x="{px:.1f}" y="{py + 4:.1f}">{op_id}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _arrow(a: tuple[float, float], b: tuple[float, float], *, reverse: bool = False
           ) -> tuple[str, float, float, str]:
    """A curved path from node ``a`` to node ``b`` (a loop when they are the same),
    where its label goes and how it is anchored; ``reverse`` (an edge back from ``b``
    to ``a`` exists too) bends it further, so the two stay apart."""
    (ax, ay), (bx, by) = a, b
    if (ax, ay) == (bx, by):
        top = ay - NODE
        path = (f"M{ax - 6:.1f},{top:.1f} C{ax - 40:.1f},{top - 50:.1f} "
                f"{ax + 40:.1f},{top - 50:.1f} {ax + 6:.1f},{top:.1f}")
        return path, ax, top - 42, "middle"
    dx, dy = bx - ax, by - ay
    dist = math.hypot(dx, dy)
    ux, uy = dx / dist, dy / dist
    nx, ny = uy, -ux  # the normal to the left of a -> b
    bend = (0.45 if reverse else 0.18) * dist
    cx, cy = (ax + bx) / 2 + nx * bend, (ay + by) / 2 + ny * bend

    def towards(px: float, py: float, qx: float, qy: float, r: float) -> tuple[float, float]:
        d = math.hypot(qx - px, qy - py) or 1.0
        return px + (qx - px) / d * r, py + (qy - py) / d * r

    sx, sy = towards(ax, ay, cx, cy, NODE)
    ex, ey = towards(bx, by, cx, cy, NODE + 1)
    mx, my = 0.25 * sx + 0.5 * cx + 0.25 * ex, 0.25 * sy + 0.5 * cy + 0.25 * ey
    lx, ly = mx + nx * 8, my + ny * 8 + 4
    anchor = "middle" if abs(nx) < 0.5 else ("start" if nx > 0 else "end")
    return f"M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}", lx, ly, anchor
