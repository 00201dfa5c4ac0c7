"""Explaining the anomalies of item histories, naming items and versions.

:func:`explain_item_step`, :func:`explain_item_cycle` and :func:`explain_item_finding`
write the sentences; :func:`cycle_anomaly` and :func:`finding_anomaly` make the
verdict's :class:`~replicheck.histories.verdict.Anomaly` and counterexample of each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from replicheck.histories.checkers.elle.anomalies import CycleAnomaly
from replicheck.histories.checkers.elle.explain import _CYCLE_TEXT, _NEEDS, explain_step, name
from replicheck.histories.checkers.elle.graph import (
    DATA,
    KIND_NAMES,
    PROCESS,
    REALTIME,
    RW,
    WR,
    WW,
    Step,
)
from replicheck.histories.checkers.elle.inference import Finding
from replicheck.histories.checkers.elle.item_inference import ItemInference
from replicheck.histories.checkers.elle.item_values import (
    ItemId,
    describe_vid,
    show_native,
    show_version,
    vid_json,
)
from replicheck.histories.checkers.elle.txn import RW_REGISTER, Txn
from replicheck.histories.verdict import Anomaly


def explain_item_step(step: Step, txns: Sequence[Txn], labels: Mapping[ItemId, str]) -> str:
    """Why ``step.src`` precedes ``step.dst`` in an item history, naming the item and
    the versions: one clause ending with the edge kind, e.g. ``T3 < T5 because T5 read
    version 4 of items/pk=a that T3 wrote (wr)``."""
    if step.kind in (PROCESS, REALTIME):
        return explain_step(step, txns, RW_REGISTER)
    a, b = name(txns[step.src]), name(txns[step.dst])
    item = labels.get(cast(Any, step.key), repr(step.key))
    v1, v2 = describe_vid(step.value, txns), describe_vid(step.value2, txns)
    if step.kind == WW:
        why = (f"{a} wrote {v1} of {item} and {b} wrote {v2}, which comes later in the "
               "item's version order")
    elif step.kind == WR:
        why = f"{b} read {v2} of {item} that {a} wrote"
    elif step.value is None:
        why = (f"{a} read {item} in its initial (absent) state and {b} wrote {v2}, a later "
               "version")
    else:
        why = (f"{a} read {v1} of {item} and {b} wrote {v2}, which comes later in the "
               "item's version order")
    return f"{a} < {b} because {why} ({KIND_NAMES[step.kind]})"


def explain_item_cycle(cycle: CycleAnomaly, txns: Sequence[Txn],
                       labels: Mapping[ItemId, str]) -> str:
    """The explanation of a dependency cycle of an item history: every edge, then its
    class (as :func:`~replicheck.histories.checkers.elle.explain.explain_cycle`)."""
    clauses = [explain_item_step(s, txns, labels) for s in cycle.steps]
    suffix = next((x for x in _NEEDS if cycle.type.endswith(x)), "")
    base = cycle.type.removesuffix(suffix)
    rw = sum(1 for s in cycle.steps if s.kind == RW)
    desc, label = _CYCLE_TEXT[base]
    return (f"{'; '.join(clauses)}. Together, {desc.format(rw=rw)}{_NEEDS.get(suffix, '')} "
            f"({cycle.type}, {label}).")


def explain_item_finding(finding: Finding, txns: Sequence[Txn]) -> str:
    """The explanation of an anomaly of an item history found by inference."""
    d = finding.details
    ts = [name(txns[i]) for i in finding.txns]
    item = d.get("item", repr(finding.key))
    t = finding.type
    if t == "G1a" and d.get("check"):
        return (f"{ts[0]} checked a condition on {item} without recording the version it "
                f"saw; the versions it may have seen are those of committed writes, which "
                f"fail here, or the one {ts[1]} made, which never committed (G1a, aborted "
                "read).")
    if t == "G1a":
        which = "" if d["version"] is None else f" (version {show_version(d['version'])})"
        return (f"{ts[0]} read {item} = {show_native(d['read'])}{which}, which only {ts[1]} "
                "wrote, and it failed: it read a write that never committed (G1a, aborted "
                "read).")
    if t == "cyclic-versions" and d.get("duplicate"):
        who = ", ".join(ts[:-1]) + " and " + ts[-1]
        return (f"{who} all committed and claim to have created version "
                f"{show_version(d['version'])} of {item}: no order of the item's writes "
                "gives each its own place, each is at or before the other (cyclic "
                "versions).")
    if t == "cyclic-versions":
        vs = d["versions"]
        parts = []
        for a, b, by in zip(vs, [*vs[1:], vs[0]], d["by"], strict=True):
            because = f" ({'T' + str(by) if by is not None else 'recorded'})"
            parts.append(f"{_show_json_version(a)} < {_show_json_version(b)}{because}")
        return (f"the versions of {item} must be ordered {'; '.join(parts)}: a cycle in the "
                "version order (cyclic versions).")
    if t == "lost-update":
        who = ", ".join(ts[:-1]) + " and " + ts[-1]
        every = "both" if len(ts) == 2 else "all"
        return (f"{who} {every} read {_show_json_version(d['version'])} of {item} and then "
                f"wrote it, and {every} committed: all but one of their updates was lost "
                "(lost update).")
    if t == "garbage-read" and d.get("unrecorded"):
        return (f"{ts[0]} read {item} holding {show_native(d['read'])} without a recorded "
                "version, and no version of the history holds that item (garbage read).")
    if t == "garbage-read":
        which = ("the initial (absent) state" if d["version"] is None
                 else _show_json_version(d["version"]))
        return (f"{ts[0]} read {which} of {item} holding {show_native(d['read'])}, which no "
                "write of the history can have made: no order of the writes explains the "
                "read (garbage read).")
    if t == "future-read":
        return (f"{ts[0]} read {_show_json_version(d['version'])} of {item}, the version it "
                "writes itself: it read its own future write (future read).")
    raise ValueError(f"no explanation for anomaly type {t!r}")  # pragma: no cover


def _show_json_version(v: Any) -> str:
    if v is None:
        return "the initial (absent) state"
    if isinstance(v, dict):
        if "value" in v:
            return "the version " + show_native(v["value"])
        return f"the version T{v['written_by']} wrote"
    return f"version {show_version(tuple(v) if isinstance(v, list) else v)}"


def _step_json(step: Step, inf: ItemInference) -> dict[str, Any]:
    txns = inf.txns
    return {"from": txns[step.src].op, "to": txns[step.dst].op,
            "kind": KIND_NAMES[step.kind],
            "item": inf.labels.get(cast(Any, step.key)) if step.kind & DATA else None,
            "from_version": vid_json(step.value) if step.kind & DATA else step.value,
            "to_version": vid_json(step.value2) if step.kind & DATA else step.value2}


def cycle_anomaly(cycle: CycleAnomaly, inf: ItemInference) -> tuple[Anomaly, dict[str, Any]]:
    """A dependency cycle as the verdict's anomaly and counterexample."""
    txns = inf.txns
    ops = tuple(txns[i].op for i in cycle.txns)
    steps = [_step_json(s, inf) for s in cycle.steps]
    data: dict[str, Any] = {"cycle": steps, "scc_size": cycle.scc_size}
    if cycle.type.startswith("G2"):
        data["rw_adjacent"] = cycle.rw_adjacent
    anomaly = Anomaly(cycle.type, ops, explain_item_cycle(cycle, txns, inf.labels), data)
    return anomaly, {"type": cycle.type, "ops": list(ops), "cycle": steps}


def finding_anomaly(finding: Finding, inf: ItemInference) -> tuple[Anomaly, dict[str, Any]]:
    """An inference finding as the verdict's anomaly and counterexample."""
    txns = inf.txns
    ops = tuple(txns[i].op for i in finding.txns)
    data: dict[str, Any] = {k: v for k, v in finding.details.items() if k != "duplicate"}
    if isinstance(data.get("version"), tuple):
        data["version"] = list(data["version"])
    anomaly = Anomaly(finding.type, ops, explain_item_finding(finding, txns), data)
    return anomaly, {"type": finding.type, "ops": list(ops), **data}
