"""Verdicts as plain text for a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from replicheck.histories.history import HistoryError
from replicheck.histories.verdict import Verdict


def _headline(verdict: Verdict) -> str:
    if verdict.valid is True:
        return "VALID"
    if verdict.valid is False:
        return "INVALID"
    return f"UNKNOWN ({'memory' if verdict.limit == 'memory' else 'time'} limit reached)"


def render_verdict(verdict: Verdict, *, source: str | None = None,
                   skipped: Sequence[HistoryError] = ()) -> str:
    """A few lines a person reads: the verdict, each anomaly's explanation, the
    models ruled out and still possible, and the cost."""
    lines = []
    title = f"{source}: " if source else ""
    checked = ", ".join(verdict.consistency) or "-"
    lines.append(f"{title}{_headline(verdict)} — model {verdict.model}, "
                 f"checked for {checked}")
    for anomaly in verdict.anomalies:
        ops = ", ".join(str(i) for i in anomaly.ops)
        lines.append(f"  {anomaly.type} (operations {ops}): {anomaly.explanation}")
    if verdict.ruled_out:
        lines.append(f"  ruled out: {', '.join(sorted(verdict.ruled_out))}")
    if verdict.still_possible:
        lines.append(f"  still possible: {', '.join(sorted(verdict.still_possible))}")
    for note in verdict.notes:
        lines.append(f"  note: {note}")
    for error in skipped:
        lines.append(f"  skipped: {error}")
    stats = verdict.stats
    lines.append(f"  {stats.operations} operations, checked in {stats.seconds:.3f} s"
                 + (f", {stats.states} states explored" if stats.states else ""))
    return "\n".join(lines)
