"""A ``not-linearizable`` anomaly's partial linearization, as the reports show it.

The linearizability checker puts its account of a failure in the anomaly's ``data``
(``histories/checkers/partial_linearization.py``; the keys are documented in
``json_report.py``). :func:`partial_linearization` reads the part the timeline draws
(the prefix's operations in order, the operation that cannot be placed, the others
pending); :func:`prefix_markdown` and :func:`prefix_html` list the prefix as a numbered
sequence with the state after each operation, then the operation that cannot be placed
and why each operation that could have explained it did not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from replicheck.histories.checkers.partial_linearization import reason_text
from replicheck.histories.verdict import Anomaly
from replicheck.reports.escaping import html_attr, html_text, md_text

__all__ = ["PartialLinearization", "partial_linearization", "prefix_html", "prefix_markdown"]

NOT_LINEARIZABLE: Final = "not-linearizable"


@dataclass(frozen=True)
class PartialLinearization:
    """What the timeline draws of a failed linearizability check: ``prefix`` (operation
    ids in linearization order), ``unplaceable`` (the id that cannot be placed next, or
    None), ``pending`` (the other ids that could not come next) and ``states`` (the
    state after each prefix operation, in words)."""

    prefix: tuple[int, ...]
    unplaceable: int | None
    pending: tuple[int, ...] = ()
    states: tuple[str, ...] = ()


def _account(anomaly: Anomaly) -> Mapping[str, Any] | None:
    data = anomaly.data
    if anomaly.type != NOT_LINEARIZABLE or not isinstance(data.get("prefix"), list):
        return None
    return data


def partial_linearization(anomalies: Iterable[Anomaly]) -> PartialLinearization | None:
    """The partial linearization of the first ``not-linearizable`` anomaly that carries
    one (None when there is none)."""
    for anomaly in anomalies:
        data = _account(anomaly)
        if data is None:
            continue
        stuck = data.get("unplaceable")
        return PartialLinearization(
            tuple(int(e["op"]) for e in data["prefix"]),
            int(stuck["op"]) if stuck else None,
            tuple(int(e["op"]) for e in data.get("pending", ())),
            tuple(str(e.get("state", "")) for e in data["prefix"]))
    return None


@dataclass(frozen=True)
class _Listing:
    """The account in plain sentences: a heading, the prefix's items, what cannot be
    placed, and the operations that could have explained it (with why not)."""

    head: str
    items: tuple[str, ...]
    stuck: str | None
    writes: tuple[str, ...]


def _listing(data: Mapping[str, Any]) -> _Listing:
    key = data.get("key_text", data.get("key"))
    head = ((f"On key {key}: l" if key is not None else "L")
            + "ongest linearizable prefix, each operation with the state it leaves "
            f"(starting from {data.get('initial_state', 'the initial state')}):")
    items = tuple(f"op {e['op']}: {e['operation']} by {e['client']} → {e['state']}"
                  for e in data["prefix"])
    stuck = data.get("unplaceable")
    if not stuck:
        return _Listing(head, items, None, ())
    line = (f"Cannot be placed next: op {stuck['op']}: {stuck['operation']} by "
            f"{stuck['client']} ({stuck['state']} there"
            + (", and nothing left can change that" if stuck.get("doomed") else "") + ").")
    writes = tuple(f"op {e['op']}: {e['operation']} by {e['client']}, but "
                   f"{reason_text(e, stuck)}" for e in data.get("explaining_writes", ()))
    return _Listing(head, items, line, writes)


LISTED: Final = 200
"""The most prefix operations (the last ones) a report lists; the JSON has them all."""


def _first_listed(listing: _Listing) -> int:
    return max(0, len(listing.items) - LISTED)


def _left_out(first: int) -> str:
    return (f"Steps 1 to {first} are left out here (the JSON report lists them all); "
            f"the last {LISTED} follow.")


WRITES_HEAD: Final = "Operations that could have explained it, and why they did not:"


def prefix_markdown(anomaly: Anomaly, indent: str = "  ") -> list[str]:
    """Markdown lines (indented to sit under the anomaly's list item) numbering the
    prefix with the states; none for another anomaly."""
    data = _account(anomaly)
    if data is None:
        return []
    listing = _listing(data)
    first = _first_listed(listing)
    out = ["", f"{indent}{md_text(listing.head)}", ""]
    if first:
        out += [f"{indent}{md_text(_left_out(first))}", ""]
    out += [f"{indent}{n}. {md_text(item)}"
            for n, item in enumerate(listing.items[first:], first + 1)]
    if not listing.items:
        out.append(f"{indent}(no operation can be linearized first)")
    if listing.stuck is not None:
        out += ["", f"{indent}{md_text(listing.stuck)}"]
    if listing.writes:
        out += ["", f"{indent}{md_text(WRITES_HEAD)}", ""]
        out += [f"{indent}- {md_text(line)}" for line in listing.writes]
    return out


def prefix_html(anomaly: Anomaly, link: str | None = None) -> str:
    """An HTML fragment numbering the prefix with the states (``link``: the timeline's
    id, to link each operation to its bar); empty for another anomaly."""
    data = _account(anomaly)
    if data is None:
        return ""
    listing = _listing(data)
    ids: Sequence[int] = [e["op"] for e in data["prefix"]]

    def item(op: int, text: str) -> str:
        if link is None:
            return f"<li>{html_text(text)}</li>"
        return f'<li><a href="#{html_attr(link)}-op{op}">{html_text(text)}</a></li>'

    first = _first_listed(listing)
    body = "".join(item(op, text) for op, text
                   in zip(ids[first:], listing.items[first:], strict=True))
    out = f'<div class="prefix"><p>{html_text(listing.head)}</p>'
    if first:
        out += f"<p>{html_text(_left_out(first))}</p>"
    out += f'<ol class="prefix" start="{first + 1}">{body}</ol>'
    if listing.stuck is not None:
        out += f"<p>{html_text(listing.stuck)}</p>"
    if listing.writes:
        out += (f"<p>{html_text(WRITES_HEAD)}</p><ul class=\"explaining\">"
                + "".join(f"<li>{html_text(line)}</li>" for line in listing.writes) + "</ul>")
    return out + "</div>"
