"""Verdicts: what a checker concluded, as plain data.

Renderers only format Verdicts; nothing downstream recomputes them. The JSON shape
(``Verdict.to_json``) is the one CONTRACTS.md section 6 fixes for
``replicheck check --json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

NOT_CHOSEN: Final = "not yet chosen"
"""The model, or the consistency models, of a verdict given before they were chosen (a
limit reached while the history was still being read)."""

SCHEMA_VERSION: Final = 1
"""The version of the JSON shape of a Verdict."""

Validity = bool | Literal["unknown"]
UNKNOWN_VERDICT: Final = "unknown"


@dataclass(frozen=True)
class Anomaly:
    """One thing a checker found wrong: its ``type`` (Elle's name, e.g. ``G1c``,
    ``not-linearizable``), the ids of the operations involved, a plain-language
    explanation, and any structured detail (a cycle's edges, a key, ...)."""

    type: str
    ops: tuple[int, ...]
    explanation: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The anomaly as JSON: ``type``, ``ops``, ``explanation`` (and ``data``)."""
        out: dict[str, Any] = {"type": self.type, "ops": list(self.ops),
                               "explanation": self.explanation}
        if self.data:
            out["data"] = _jsonable(self.data)
        return out


@dataclass(frozen=True)
class Stats:
    """What checking cost: ``operations`` counted (not lines), ``seconds`` of
    checking (parsing excluded), search ``states`` explored, and peak memory in
    bytes when measured."""

    operations: int = 0
    seconds: float = 0.0
    states: int = 0
    peak_memory: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The statistics as JSON."""
        out: dict[str, Any] = {"operations": self.operations,
                               "seconds": round(self.seconds, 6), "states": self.states}
        if self.peak_memory is not None:
            out["peak_memory"] = self.peak_memory
        return out


@dataclass(frozen=True)
class Verdict:
    """A checker's conclusion.

    ``valid`` is True (allowed by every consistency model checked), False (an
    anomaly found) or ``"unknown"`` (a limit was reached first; ``anomalies`` and
    ``counterexample`` may still hold partial findings, never invented ones).
    ``witness`` is a linearization or serial order (operation ids) when valid;
    ``counterexample`` the smallest failing part when not. ``parts`` holds the
    verdicts of independent parts (e.g. one per key) when the history was split.
    ``limit`` says which limit made it unknown: ``"time"`` (the default reading of an
    unknown verdict) or ``"memory"``."""

    valid: Validity
    model: str
    consistency: tuple[str, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
    ruled_out: frozenset[str] = frozenset()
    still_possible: frozenset[str] = frozenset()
    witness: tuple[int, ...] | None = None
    counterexample: Any = None
    stats: Stats = field(default_factory=Stats)
    parts: Mapping[str, Verdict] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    limit: Literal["time", "memory"] | None = None

    def with_stats(self, **changes: Any) -> Verdict:
        """A copy with some statistics replaced."""
        return replace(self, stats=replace(self.stats, **changes))

    def to_json(self) -> dict[str, Any]:
        """The Verdict as the JSON object of ``replicheck check --json``."""
        out: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "valid": self.valid,
            "model": self.model,
            "consistency": list(self.consistency),
            "anomalies": [a.to_json() for a in self.anomalies],
            "ruled_out": sorted(self.ruled_out),
            "still_possible": sorted(self.still_possible),
            "witness": None if self.witness is None else list(self.witness),
            "counterexample": _jsonable(self.counterexample),
            "stats": self.stats.to_json(),
        }
        if self.notes:
            out["notes"] = list(self.notes)
        if self.parts:
            out["parts"] = {k: v.to_json() for k, v in self.parts.items()}
        return out


def combine_validity(values: Iterable[Validity]) -> Validity:
    """Over independent parts: any False -> False, else any unknown -> unknown,
    else True (also for no parts at all)."""
    seen = list(values)
    if any(v is False for v in seen):
        return False
    if any(v == UNKNOWN_VERDICT for v in seen):
        return UNKNOWN_VERDICT
    return True


def exit_status(valid: Validity) -> int:
    """The CLI exit status of a validity: 0 valid, 1 violation, 3 unknown."""
    if valid is True:
        return 0
    return 1 if valid is False else 3


def _jsonable(value: Any) -> Any:
    """``value`` with tuples, sets, frozen dataclasses and non-string keys made JSON-able."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=repr)
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    return str(value)
