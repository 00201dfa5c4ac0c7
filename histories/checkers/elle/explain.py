"""Plain-language explanations of anomalies, in Elle's style.

A transaction is named ``T<id>`` after its operation id. A cycle is explained edge by
edge ("T1 < T2 because T2 read the value 3 that T1 appended to x (wr)"), then what
kind of cycle it is and why no allowed order of the transactions exists; an anomaly
found by inference is explained in one or two sentences naming the transactions, the
key and the values.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Final

from replicheck.histories.checkers.elle.anomalies import CycleAnomaly
from replicheck.histories.checkers.elle.graph import KIND_NAMES, PROCESS, REALTIME, RW, WR, WW, Step
from replicheck.histories.checkers.elle.inference import Finding
from replicheck.histories.checkers.elle.txn import LIST_APPEND, Txn


def name(txn: Txn) -> str:
    """How explanations name a transaction: ``T`` and its operation id."""
    return f"T{txn.op}"


def show(value: Any) -> str:
    """A value as explanations write it (``nil`` for ``None``)."""
    if value is None:
        return "nil"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def show_key(key: Hashable) -> str:
    """A key as explanations write it (bare when it is a string or a number)."""
    if isinstance(key, str | int) and not isinstance(key, bool):
        return str(key)
    return repr(key)


def explain_step(step: Step, txns: Sequence[Txn], workload: str) -> str:
    """Why ``step.src`` precedes ``step.dst``: one clause ending with the edge kind."""
    a, b = name(txns[step.src]), name(txns[step.dst])
    k, v1, v2 = show_key(step.key), step.value, step.value2
    if step.kind == PROCESS:
        return f"{a} < {b} because process {show(v1)} ran {a} before {b} (process)"
    if step.kind == REALTIME:
        return (f"{a} < {b} because {a} completed (at index {v1}) before {b} was invoked "
                f"(at index {v2}) (realtime)")
    if workload == LIST_APPEND:
        if step.kind == WW:
            why = f"{b} appended {show(v2)} after {a}'s append of {show(v1)} to {k}"
        elif step.kind == WR:
            why = f"{b} read the value {show(v1)} that {a} appended to {k}"
        elif not v1:
            why = (f"{a} read the initial (empty) state of {k} and did not see {b}'s "
                   f"append of {show(v2)}")
        else:
            why = (f"{a}'s read of {k}, ending with {show(v1[-1])}, did not see {b}'s "
                   f"append of {show(v2)}, which came later")
    elif step.kind == WW:
        why = (f"{a} set {k} to {show(v1)} and {b} set it to {show(v2)}, which came later "
               "in the version order")
    elif step.kind == WR:
        why = f"{b} read {k} = {show(v2)}, the value {a} wrote"
    elif v1 is None:
        why = f"{a} read the initial (nil) state of {k}, which {b} overwrote with {show(v2)}"
    else:
        why = (f"{a} read {k} = {show(v1)} and {b} set it to {show(v2)}, which came later "
               "in the version order")
    return f"{a} < {b} because {why} ({KIND_NAMES[step.kind]})"


_CYCLE_TEXT: Final[dict[str, tuple[str, str]]] = {
    "G0": ("a cycle of write-write edges only: the transactions' writes are interleaved, "
           "so no order of them installs these versions", "dirty write"),
    "G1c": ("a cycle of ww and wr edges: each transaction saw or overwrote the effects "
            "of the next, so information flows in a circle", "circular information flow"),
    "G-single": ("a cycle with exactly one read-write anti-dependency: one transaction "
                 "missed an effect of transactions that depend on it", "read skew"),
    "G-nonadjacent": ("a cycle with {rw} read-write anti-dependencies, no two of them "
                      "adjacent: snapshot isolation cannot order these snapshots and "
                      "commits", "non-adjacent anti-dependencies"),
    "G2-item": ("a cycle with {rw} read-write anti-dependencies: the transactions each "
                "missed another's write, so no serial order exists", "e.g. write skew"),
}

_NEEDS: Final[dict[str, str]] = {
    "-realtime": ", and it needs real-time order: the transactions cannot all have "
                 "taken effect between their invocations and completions",
    "-process": ", and it needs process order: some process would have seen its own "
                "transactions out of order",
}


def explain_cycle(cycle: CycleAnomaly, txns: Sequence[Txn], workload: str) -> str:
    """The explanation of a dependency cycle: every edge, then its class."""
    clauses = [explain_step(s, txns, workload) for s in cycle.steps]
    suffix = next((x for x in _NEEDS if cycle.type.endswith(x)), "")
    base = cycle.type.removesuffix(suffix)
    rw = sum(1 for s in cycle.steps if s.kind == RW)
    desc, label = _CYCLE_TEXT[base]
    return (f"{'; '.join(clauses)}. Together, {desc.format(rw=rw)}{_NEEDS.get(suffix, '')} "
            f"({cycle.type}, {label}).")


def explain_finding(finding: Finding, txns: Sequence[Txn], workload: str) -> str:
    """The explanation of an anomaly found by inference."""
    d = finding.details
    ts = [name(txns[i]) for i in finding.txns]
    k = show_key(finding.key)
    appended = "appended" if workload == LIST_APPEND else "wrote"
    t = finding.type
    if t == "G1a" and d.get("indeterminate"):
        return (f"{ts[0]} read {k} = {show(d['read'])}, which holds "
                f"{', '.join(show(e) for e in d['elements'])} appended by {ts[1]} out of "
                f"{ts[1]}'s own order of appends: {ts[1]} (indeterminate) cannot have "
                "committed them so, so it read a write that never committed (G1a, aborted "
                "read).")
    if t == "G1a":
        if workload == LIST_APPEND:
            return (f"{ts[0]} read {k} = {show(d['read'])}, which holds {show(d['elements'][0])}"
                    f" appended by {ts[1]}, a transaction that failed: it read a write that "
                    "never committed (G1a, aborted read).")
        return (f"{ts[0]} read {k} = {show(d['read'])}, written by {ts[1]}, a transaction "
                "that failed: it read a write that never committed (G1a, aborted read).")
    if t == "G1b":
        if workload == LIST_APPEND:
            return (f"{ts[0]} read {k} = {show(d['read'])}, ending with {show(d['element'])}, "
                    f"which {ts[1]} appended and then followed with another append to {k}: "
                    "it saw an intermediate state (G1b, intermediate read).")
        return (f"{ts[0]} read {k} = {show(d['read'])}, which {ts[1]} wrote and then "
                "overwrote in the same transaction: it saw an intermediate state (G1b, "
                "intermediate read).")
    if t == "internal":
        if workload == LIST_APPEND:
            exp = show(d["expected"]) if d["whole"] else "[..., " + show(d["expected"])[1:]
        else:
            exp = show(d["expected"])
        return (f"{ts[0]} read {k} = {show(d['read'])} (micro-operation {d['mop']}, "
                f"counting from 0), but its own earlier reads and writes of {k} mean it "
                f"should have seen {exp} (internal inconsistency).")
    if t == "future-read":
        if workload == LIST_APPEND:
            return (f"{ts[0]} read {k} = {show(d['read'])}, which holds {show(d['element'])}, "
                    f"a value {ts[0]} itself appends later (micro-operation {d['mop']}, "
                    "counting from 0): it read its own future write (future read).")
        return (f"{ts[0]} read {k} = {show(d['read'])}, a value it writes itself later "
                f"(micro-operation {d['mop']}, counting from 0): it read its own future "
                "write (future read).")
    if t == "lost-update":
        who = ", ".join(ts[:-1]) + " and " + ts[-1]
        every = "both" if len(ts) == 2 else "all"
        return (f"{who} {every} read {k} = {show(d['read'])} and then {appended} {k}, and "
                f"{every} committed: all but one of their updates was lost (lost update).")
    if t == "dirty-update":
        vals = d["values"]
        return (f"in the order of appends to {k} ({show(vals)}), {show(vals[0])} was appended "
                f"by {ts[0]}, which failed, and {show(vals[-1])} was appended after it by "
                f"{ts[1]}, which committed: a committed update built on an aborted one "
                "(dirty update).")
    if t == "duplicate-elements":
        dups = d["duplicates"]
        return (f"{ts[0]} read {k} = {show(d['read'])}, in which "
                f"{', '.join(show(e) for e in dups)} "
                f"{'appears' if len(dups) == 1 else 'appear'} more than once, though each "
                "value is appended once (duplicate elements).")
    if t == "incompatible-order" and "appended" in d:
        return (f"{ts[0]} appended {', then '.join(show(e) for e in d['appended'])} to {k}, "
                f"but {ts[1]} read {k} = {show(d['read'])}: no single order of appends "
                "explains both (incompatible order).")
    if t == "incompatible-order":
        r1, r2 = d["reads"]
        return (f"{ts[0]} read {k} = {show(r1)} and {ts[1]} read {k} = {show(r2)}: the "
                "first is not a prefix of the second, so no single order of appends "
                "explains both (incompatible order).")
    if t == "garbage-read":
        ghosts = d["elements"]
        return (f"{ts[0]} read {k} = {show(d['read'])}, but no transaction appended "
                f"{', '.join(show(e) for e in ghosts)} to {k}: no order of appends explains "
                "this read (garbage read).")
    if t == "cyclic-versions":
        vals = d["values"]
        pairs = [f"{show(a)} < {show(b)} ({w} read {show(a)} and then wrote {show(b)})"
                 for a, b, w in zip(vals, vals[1:] + vals[:1], ts, strict=True)]
        return (f"the versions of {k} must be ordered {'; '.join(pairs)}: a cycle in the "
                "version order (cyclic versions).")
    raise ValueError(f"no explanation for anomaly type {t!r}")  # pragma: no cover
