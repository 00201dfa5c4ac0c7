"""Verdicts as plain text for a terminal.

Every string from a history or a checker goes through
:func:`~replicheck.reports.escaping.terminal_line`, so that it stays on its own line and
cannot move the cursor, change colours or fail to encode.
"""

from __future__ import annotations

from collections.abc import Sequence

from replicheck.histories.history import HistoryError
from replicheck.histories.verdict import NOT_CHOSEN, Verdict
from replicheck.reports.escaping import terminal_line


def _headline(verdict: Verdict) -> str:
    if verdict.valid is True:
        return "VALID"
    if verdict.valid is False:
        return "INVALID"
    if verdict.limit is None:
        return "UNKNOWN (undecided; no limit was reached)"
    return f"UNKNOWN ({verdict.limit} limit reached)"


def render_verdict(verdict: Verdict, *, source: str | None = None,
                   skipped: Sequence[HistoryError] = ()) -> str:
    """A few lines a person reads: the verdict, each anomaly's explanation, the
    models ruled out and still possible, and the cost (one line each, whatever the
    strings hold)."""
    lines = []
    title = f"{terminal_line(source)}: " if source else ""
    checked = terminal_line(", ".join(verdict.consistency)) or NOT_CHOSEN
    lines.append(f"{title}{_headline(verdict)} — model {terminal_line(verdict.model)}, "
                 f"checked for {checked}")
    for anomaly in verdict.anomalies:
        ops = ", ".join(str(i) for i in anomaly.ops)
        lines.append(f"  {terminal_line(anomaly.type)} (operations {terminal_line(ops)}): "
                     f"{terminal_line(anomaly.explanation)}")
    if verdict.ruled_out:
        lines.append(f"  ruled out: {terminal_line(', '.join(sorted(verdict.ruled_out)))}")
    if verdict.still_possible:
        lines.append("  still possible: "
                     f"{terminal_line(', '.join(sorted(verdict.still_possible)))}")
    for note in verdict.notes:
        lines.append(f"  note: {terminal_line(note)}")
    for error in skipped:
        lines.append(f"  skipped: {terminal_line(error)}")
    stats = verdict.stats
    lines.append(f"  {stats.operations} operations, checked in {stats.seconds:.3f} s"
                 + (f", {stats.states} states explored" if stats.states else ""))
    return "\n".join(lines)
