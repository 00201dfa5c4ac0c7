"""The Store contract's own synchronous entry point, checked on schedulable stores.

A schedulable store is driven through a
:class:`~replicheck.properties.schedule.ScheduleRecorder`, whose ``execute`` submits
the request and takes the fair policy's decisions itself (each one a replayable
schedule step): the store's own ``execute`` (CONTRACTS.md section 2, "a call runs the
simulation until that operation completes") would then never be called. So where
the conformance property runs a request through the recorder, it first copies the
store (:class:`~replicheck.implementation.store.Forkable`) and runs the same request
through the copy's own ``execute`` (:func:`~replicheck.properties.recording.
call_execute`: anything but a response or a typed error is a contract breach). Both
start from the same state and follow the same fair policy, so they must answer the
same: a different answer is a :class:`~replicheck.properties.recording.
ContractBreach` naming both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from replicheck.implementation.store import Forkable
from replicheck.models.items.requests import Request, Response
from replicheck.properties.recording import ContractBreach, call_execute, request_text

__all__ = ["check_own_execute", "own_execute_twin"]

Outcome = tuple[Any, ...]
"""An answer as the conformance property compares answers (``("ok", item, items)``
or ``("error", code, detail)``)."""


def own_execute_twin(driven: Any) -> Any | None:
    """A copy of the store under ``driven`` to call its own ``execute`` on, when
    ``driven`` is a schedule recorder (which never calls it) around a forkable store;
    None otherwise (the store's own ``execute`` is what ``driven.execute`` calls)."""
    from replicheck.properties.schedule import ScheduleRecorder

    if not isinstance(driven, ScheduleRecorder):
        return None
    store = driven.store
    if not isinstance(store, Forkable):
        return None
    return store.fork()


def check_own_execute(twin: Any, request: Request, answered: Outcome,
                      outcome: Callable[[Callable[[], Response]], Outcome]) -> None:
    """Run ``request`` through ``twin``'s own ``execute`` (``twin`` a copy of the store
    made just before the suite ran ``request`` through its schedule recorder, which
    ``answered``); ``outcome`` turns a call into an :data:`Outcome`. Raises
    :class:`ContractBreach` when the store's own ``execute`` raises what the contract
    does not allow, or answers otherwise than submitting the request and running the
    fair policy until it completes did."""
    own = outcome(lambda: call_execute(twin, request))
    if own != answered:
        raise ContractBreach(
            f"execute({request_text(request)}) answered {_shown(own)}, where submitting "
            f"the same request to the same state and taking the fair policy's decisions "
            f"until it completed answered {_shown(answered)}: the store's own execute "
            "does not answer as its submit-and-run does")


def _shown(outcome: Outcome) -> str:
    if outcome and outcome[0] == "error":
        return f"{outcome[1]}"
    return "ok" if len(outcome) < 2 or outcome[1] is None else f"ok with {outcome[1]!r}"
