"""Driving a schedulable store: the recording every scheduled property drives it
through, the fair policy, and the small pieces of driving they share.

:class:`DrivenRecording` (a recording store that can also send a request to a
chosen node, and a put with a causal context), :func:`fair_step`,
:func:`heal_dropping`, :func:`describe_decision`, :func:`idle_client`,
:func:`steer`, and the probing and closing of a store a factory builds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from replicheck.histories.items import request_to_json
from replicheck.implementation.store import (
    Deliver,
    Descriptor,
    DirectRouting,
    Drop,
    Duplicate,
    Fire,
    Handle,
    Introspectable,
    MessageControl,
    Store,
    Topology,
)
from replicheck.models.items.requests import Request, request_kind
from replicheck.properties.recording import RecordingStore
from replicheck.properties.schedule import fair_decision

__all__ = [
    "CLIENTS",
    "MAX_CALL_DECISIONS",
    "MAX_SETTLE_DECISIONS",
    "DrivenRecording",
    "close_store",
    "describe_decision",
    "fair_step",
    "heal_dropping",
    "idle_client",
    "node_ids",
    "probe_store",
    "steer",
]

CLIENTS: Final = ("c0", "c1", "c2")
"""The clients of the scheduled properties. Every client is named ``cN`` (the
conformance property's one client is ``c0``; the threaded property's are ``c0`` to
``c2``), and reports label operations by client
(``histories.wording.process_label``): ``c1/2`` is client ``c1``'s second process,
the one it continues under after an indeterminate answer."""

MAX_CALL_DECISIONS: Final = 500
"""The most fair decisions a rule takes to complete one operation."""

MAX_SETTLE_DECISIONS: Final = 20_000
"""The most fair decisions teardown takes to complete the operations in flight."""


def close_store(store: object) -> None:
    """``store.close()`` when the store has one."""
    closer = getattr(store, "close", None)
    if callable(closer):
        closer()


def node_ids(store: object) -> tuple[str, ...]:
    """The store's node ids (:class:`Topology`), else its replicas
    (:class:`Introspectable`), else none."""
    if isinstance(store, Topology):
        return tuple(store.nodes)
    if isinstance(store, Introspectable):
        return tuple(store.replicas())
    return ()


def probe_store(factory: Callable[[], Store]) -> tuple[Descriptor, tuple[str, ...], Any]:
    """The descriptor and node ids of a store ``factory`` builds, and the store itself
    (the caller closes it) so that its protocols can be looked for."""
    store: Any = factory()
    return store.descriptor, node_ids(store), store


def describe_decision(store: Any, decision: Any) -> str:
    """A scheduler decision in plain words (the message or timer it acts on when the
    store's simulation still knows it)."""
    control = store if isinstance(store, MessageControl) else None
    kind = type(decision).__name__.lower()
    if isinstance(decision, Fire):
        timer = next((t for t in control.pending_timers() if t.id == decision.timer),
                     None) if control is not None else None
        if timer is not None:
            return f"fire timer {timer.name} at {timer.owner}"
        return f"fire timer {decision.timer}"
    if isinstance(decision, Deliver | Drop | Duplicate):
        message = next((m for m in control.messages_in_flight() if m.id == decision.message),
                       None) if control is not None else None
        if message is not None:
            return f"{kind} message {message.id} ({message.kind} {message.src}->{message.dst})"
        return f"{kind} message {decision.message}"
    return repr(decision)


def fair_step(recording: RecordingStore) -> bool:
    """Take one fair decision (the oldest delivery, else the earliest timer:
    :func:`~replicheck.properties.schedule.fair_decision`); False when the store offers
    neither."""
    decision = fair_decision(recording)
    if decision is None:
        return False
    recording.decide(decision)
    return True


def heal_dropping(store: Any, recording: RecordingStore) -> int:
    """Heal the network; the messages a partition had cut off are lost first (a
    partition drops packets, it does not queue them). Returns how many were lost."""
    lost = store.cut_off() if isinstance(store, MessageControl) else ()
    for message in lost:
        recording.decide(Drop(message))
    store.heal()
    return len(lost)


def steer(value: float, label: str) -> None:
    """``hypothesis.target(value, label)`` inside a test; nothing when a machine runs
    by hand."""
    import hypothesis
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        hypothesis.target(value, label=label)


def idle_client(clients: tuple[str, ...], handles: Mapping[str, Handle], wanted: str
                ) -> str | None:
    """The first of ``clients``, from ``wanted`` on (round the end), with no request
    in flight (no handle in ``handles``, or a completed one); None when all are
    busy."""
    start = clients.index(wanted)
    for i in range(len(clients)):
        candidate = clients[(start + i) % len(clients)]
        handle = handles.get(candidate)
        if handle is None or handle.done:
            return candidate
    return None


class DrivenRecording(RecordingStore):
    """A recording store that can also send a put with a causal context straight to
    one node (stores with ``versions``), recorded like :meth:`submit`."""

    def decide(self, decision: Any) -> None:
        """Take ``decision`` and record every completion it caused."""
        store: Any = self.store
        store.decide(decision)
        self.collect()

    def submit_at(self, client: str, request: Request, node: str,
                  context: Mapping[str, int] | None = None) -> Handle:
        """Record the invocation and send ``request`` for ``client`` to ``node``; with
        ``context`` (a put only) the put supersedes exactly what the context covers."""
        if context is None:
            return super().submit_at(client, request, node)
        store = self.store
        assert isinstance(store, DirectRouting)
        process = self.process_of(client)
        self.recorder.invoke(process, request_kind(request), request_to_json(request),
                             meta=self.client_meta(client))
        handle = store.submit_at(client, request, node, context)
        self._pending.append((process, handle))
        self.collect()
        return handle
