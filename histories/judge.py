"""One entry point for judging a history: pick the model, run its checker.

``check(history, model, consistency, timeout)`` is what the command line and the
suite call. The model names are those of ``replicheck check --model``:

- ``register``, ``cas-register``, ``kv``, ``item``: single-object models, checked
  for linearizability (split by key where the model allows);
- ``list-append``, ``rw-register``: transactional workloads, checked Elle-style
  against the requested consistency models.

When no model is given it is inferred from the functions the history uses
(CONTRACTS.md section 6); when that is unclear, :class:`ModelChoiceError` names the
choices.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from replicheck.histories.history import History, HistoryError, Operation
from replicheck.histories.verdict import Stats, Verdict
from replicheck.models.specs.base import SequentialSpec

SINGLE_OBJECT_MODELS: Final = ("register", "cas-register", "kv", "item")
TRANSACTIONAL_MODELS: Final = ("list-append", "rw-register")
MODELS: Final = SINGLE_OBJECT_MODELS + TRANSACTIONAL_MODELS
"""Every model ``check`` knows."""

DEFAULT_CONSISTENCY: Final = {
    **{m: ("linearizable",) for m in SINGLE_OBJECT_MODELS},
    **{m: ("strict-serializable",) for m in TRANSACTIONAL_MODELS},
}

_ITEM_FUNCTIONS: Final = frozenset(
    {"get-strong", "get-eventual", "put", "update", "delete", "transact-write", "transact-get"}
)


NAMED_ANOMALY_MODELS: Final = ("register", "cas-register")
"""Single-object models whose non-linearizable verdicts also name the stale reads and
lost updates the history shows (their operations read and write one key each)."""


NAMED_ANOMALY_SECONDS: Final = 10.0
"""The most time the search for stale reads may add to a verdict (they only name what
went wrong: the verdict is already decided)."""


def _with_named_anomalies(verdict: Verdict, history: History, limit: float | None
                          ) -> Verdict:
    """``verdict`` (linearizability, found False) with the history's stale reads and
    lost updates added to its anomalies (the stale-read search within
    :data:`NAMED_ANOMALY_SECONDS`, or ``limit`` if smaller; a note says when it
    stopped early); any other verdict as it is."""
    if verdict.valid is not False:
        return verdict
    from replicheck.histories.checkers.lost_update import find_lost_updates
    from replicheck.histories.checkers.stale_read import check_stale_reads

    budget = NAMED_ANOMALY_SECONDS if limit is None else min(limit, NAMED_ANOMALY_SECONDS)
    stale = check_stale_reads(history, timeout=budget)
    notes = verdict.notes
    if stale.notes:  # the search ran out of time
        notes += (f"the search for stale reads stopped after {budget:g} s: those named "
                  "are some of them",)
    found = tuple(a for a in stale.anomalies + find_lost_updates(history)
                  if a not in verdict.anomalies)
    if not found and notes == verdict.notes:
        return verdict
    return replace(verdict, anomalies=verdict.anomalies + found, notes=notes)


class ModelChoiceError(ValueError):
    """The model is unknown, unsupported for the history, or cannot be inferred."""


def _micro_functions(history: History) -> frozenset[str]:
    found: set[str] = set()
    for op in history.operations:
        for value in (op.input, op.output):
            if isinstance(value, list | tuple):
                for micro in value:
                    if isinstance(micro, list | tuple) and micro and isinstance(micro[0], str):
                        found.add(str.__str__(micro[0]))  # an EDN :append by its name
    return frozenset(found)


def infer_model(history: History) -> str:
    """The model the history's functions imply: read/write/cas -> cas-register;
    get/put/append -> kv; item requests -> item; transactions of append and r ->
    list-append; of w and r -> rw-register. Raises ModelChoiceError naming the
    choices when the functions fit none or several."""
    functions = history.functions
    if any(r.f == "tables" for r in history.observations) and functions <= _ITEM_FUNCTIONS:
        return "item"  # an item history declares its tables (even one of puts only)
    if not functions:
        return "cas-register"
    if functions <= {"read", "write", "cas"}:
        return "cas-register"
    if functions <= {"get", "put", "append"}:
        return "kv"
    if functions <= _ITEM_FUNCTIONS:
        return "item"
    if functions == {"txn"}:
        micro = _micro_functions(history)
        if micro and micro <= {"append", "r"}:
            return "list-append"
        if micro and micro <= {"w", "r"}:
            return "rw-register"
        raise ModelChoiceError(
            f"cannot tell the transactional model from micro-operations "
            f"{sorted(micro)}; choose --model list-append (append, r) or rw-register (w, r)"
        )
    raise ModelChoiceError(
        f"cannot infer the model from the functions {sorted(functions)}; choose --model "
        f"one of: {', '.join(MODELS)}"
    )


def spec_for(model: str, history: History) -> SequentialSpec[Any]:
    """The sequential specification of a single-object model. For ``item``, the
    tables come from the history's ``tables`` observation record (a list of
    ``{"name", "partition_key", "sort_key"}``); ModelChoiceError if it has none. A
    ``windows`` observation (:mod:`replicheck.histories.windows`) gives the store's
    client token window, judged from when each operation could have taken effect."""
    from replicheck.models.specs import CAS_REGISTER, KV, REGISTER

    if model == "register":
        return REGISTER
    if model == "cas-register":
        return CAS_REGISTER
    if model == "kv":
        return KV
    if model == "item":
        from replicheck.histories.items import schemas_from_json
        from replicheck.models.specs.items import item_store

        declared = [r.value for r in history.observations if r.f == "tables"]
        if not declared:
            raise ModelChoiceError(
                "model 'item' needs the tables' key schemas: add an observation record "
                '{"type": "observe", "f": "tables", "value": [{"name": ..., '
                '"partition_key": ..., "sort_key": ...}]}'
            )
        from replicheck.histories.windows import history_windows

        try:
            windows = history_windows(history)
            return item_store(*schemas_from_json(declared[-1]), token_window=None
                              if windows is None else windows.idempotency_token)
        except HistoryError as error:
            raise ModelChoiceError(str(error)) from None
    raise ModelChoiceError(f"model {model!r} has no sequential specification")


_SERIAL: Final = frozenset({"serializable", "strong-session-serializable",
                            "strict-serializable", "linearizable"})
"""The models an item history holds only with an order replayed through the item model."""


def _check_items(history: History, wanted: Sequence[str], limit: float | None) -> Verdict:
    """Item histories against transactional models (Elle-style, on the versions the
    store recorded), and against linearizability too when asked."""
    from dataclasses import replace

    from replicheck.histories.checkers.elle.items import check_item_transactions
    from replicheck.histories.checkers.linearizable import check_linearizable
    from replicheck.histories.verdict import combine_validity
    from replicheck.models.lattice import MODELS as LATTICE_MODELS

    transactional = [m for m in wanted if m != "linearizable"]
    unknown = sorted(set(transactional) - LATTICE_MODELS)
    if unknown:
        raise ModelChoiceError(f"unknown consistency model(s) {unknown}; "
                               f"known: {', '.join(sorted(LATTICE_MODELS))}")
    if _SERIAL & set(wanted):
        # a serial model holds only with a serial order that replays through the item
        # model, which needs the tables' key schemas: without them it is undecidable
        spec_for("item", history)
    verdict = check_item_transactions(history, consistency=transactional, timeout=limit)
    # Strict serializability implies linearizability: on recorded versions alone it is
    # not shown, so it is judged with the linearizability check, or not listed as holding.
    if not {"linearizable", "strict-serializable"} & set(wanted):
        return replace(verdict, still_possible=verdict.still_possible - {"strict-serializable"})
    single = check_linearizable(history, spec_for("item", history), model="item",
                                timeout=limit)
    ruled_out = verdict.ruled_out | single.ruled_out
    return replace(
        verdict,
        valid=combine_validity([verdict.valid, single.valid]),
        consistency=tuple(wanted),
        anomalies=verdict.anomalies + single.anomalies,
        ruled_out=ruled_out,
        still_possible=(verdict.still_possible | single.still_possible) - ruled_out,
        witness=single.witness if verdict.witness is not None else None,
        notes=verdict.notes + single.notes,
    )


def _known_functions(model: str, history: History) -> frozenset[str]:
    if model in TRANSACTIONAL_MODELS:
        return frozenset({"txn"})
    return spec_for(model, history).functions


def drop_unknown_functions(history: History, model: str) -> History:
    """``history`` without the operations whose function ``model`` does not know, each
    reported in ``skipped`` with its line. The operations kept keep their ``id``, so
    anomalies found in the result name operations of ``history``."""
    from dataclasses import replace

    known = _known_functions(model, history)
    kept: list[Operation] = []
    skipped = list(history.skipped)
    for op in history.operations:
        if op.f in known:
            kept.append(op)
        else:
            skipped.append(HistoryError(
                f"unknown function {op.f!r} for model {model!r}; expected one of "
                f"{', '.join(sorted(known))}", source=history.source, line=op.line))
    return replace(history, operations=tuple(kept), skipped=tuple(skipped))


def check(history: History, model: str | None = None,
          consistency: Sequence[str] | None = None, timeout: float | None = 300.0,
          *, lenient: bool = False) -> Verdict:
    """Judge ``history`` under ``model`` (inferred when None) against the consistency
    models ``consistency`` (the model's default when None). ``timeout`` in seconds
    bounds the search (None or 0: no limit); reaching it gives an "unknown" verdict.

    Raises ModelChoiceError for an unknown model or a consistency model the chosen
    model's checker cannot judge, and ValueError for a function the model does not
    know (with ``lenient``, such operations are skipped and reported in the history's
    ``skipped`` instead: pass the returned history's problems on with
    :func:`drop_unknown_functions` when you need them)."""
    chosen = model or infer_model(history)
    if chosen not in MODELS:
        raise ModelChoiceError(f"unknown model {chosen!r}; choose one of: {', '.join(MODELS)}")
    wanted = tuple(consistency) if consistency else DEFAULT_CONSISTENCY[chosen]
    limit = timeout or None
    if lenient:
        history = drop_unknown_functions(history, chosen)
    if len(history) == 0:
        return Verdict(True, chosen, wanted, witness=(), stats=Stats(operations=0),
                       notes=("0 operations",))
    started = time.perf_counter()
    if chosen == "item" and set(wanted) - {"linearizable"}:
        verdict = _check_items(history, wanted, limit)
    elif chosen in SINGLE_OBJECT_MODELS:
        unsupported = sorted(set(wanted) - {"linearizable"})
        if unsupported:
            raise ModelChoiceError(
                f"model {chosen!r} is checked for linearizable only, not {unsupported}"
            )
        from replicheck.histories.checkers.linearizable import check_linearizable

        spec = spec_for(chosen, history)
        if chosen == "item":  # the transactional path decodes the requests the same way
            from replicheck.histories.items import check_requests

            check_requests(history)
        verdict = check_linearizable(history, spec, model=chosen, timeout=limit)
        if chosen in NAMED_ANOMALY_MODELS:
            verdict = _with_named_anomalies(verdict, history, limit)
    else:
        from replicheck.models.lattice import MODELS as LATTICE_MODELS
        from replicheck.models.lattice import TRANSACTIONAL

        unknown = sorted(set(wanted) - LATTICE_MODELS)
        if unknown:
            raise ModelChoiceError(
                f"unknown consistency model(s) {unknown}; "
                f"known: {', '.join(sorted(LATTICE_MODELS))}"
            )
        outside = sorted(set(wanted) - set(TRANSACTIONAL))
        if outside:
            raise ModelChoiceError(
                f"model {chosen!r} is judged for the transactional consistency models "
                f"only ({', '.join(TRANSACTIONAL)}), not {outside}"
            )
        from replicheck.histories.checkers.elle import check_list_append, check_rw_register

        run = check_list_append if chosen == "list-append" else check_rw_register
        verdict = run(history, consistency=wanted, timeout=limit)
    if verdict.stats.seconds == 0.0:
        verdict = verdict.with_stats(seconds=time.perf_counter() - started)
    return verdict
