"""Session guarantees: read-your-writes, monotonic reads, monotonic writes and
writes-follow-reads, judged from the versions clients saw.

This module also holds the version vocabulary that the causal and convergence
checkers share (:class:`ClockVersion`, :class:`DottedVersion`, :class:`TotalVersion`,
:func:`version_le`, :class:`Catalog`): what follows is the metadata a store records so
that these checkers can judge its histories.

Operations read
    Single-key operations of client processes, with their key in ``Operation.key``:

    - reads: ``f`` in :data:`READ_FUNCTIONS` (``read``, ``get``); the value read is
      the completion's value (``None``: nothing found);
    - writes: ``f`` in :data:`WRITE_FUNCTIONS` (``write``, ``put``, ``update``) and
      deletes (``f`` in :data:`DELETE_FUNCTIONS`, ``delete``) and ``cas``. The value
      written is ``meta["item"]`` when given, else the invocation's value for
      ``write``/``put``, ``None`` for a delete and the second element of ``[old, new]``
      for ``cas``; an ``update`` without ``meta["item"]`` wrote an unknown value.
      A write that completed ``ok`` but applied nothing (a condition that evaluated
      false, recorded as ``ok``) must carry ``meta["applied"] = false``.

    Keys are compared by their JSON form (:func:`canonical_key`): a list and a tuple
    with the same elements are the same key, and so are ``k`` and the 1-tuple ``(k,)``.
    Other functions (transactions, ...) are ignored by these checkers.

Version metadata (JSON values in ``Operation.meta``; invocation and completion meta
are merged by :func:`~replicheck.histories.history.pair`)
    A *write* records the version it created, in one of three forms:

    - ``{"version": V}``: a totally ordered version, ``V`` an int (a leader's sequence
      number) or a list of ints and strings compared lexicographically (last writer
      wins: ``[timestamp, replica]``). Two different writes of a key never share one.
    - ``{"clock": {"n1": 2, "n2": 1}}``: a vector clock whose history is the write's
      causal past including itself. A write that does not descend another is
      concurrent with it (both survive as siblings): a store that discards one of two
      concurrent writes (last writer wins) records ``version``, not ``clock``.
    - ``{"dot": ["n1", 3], "clock": {...}}``: a dotted version vector (Riak style):
      the write's dot and the causal context it carried (the dots it supersedes; it
      may include its own dot).

    A *read* records what it returned: ``{"version": V}`` / ``{"clock": {...}}`` /
    ``{"dot": ..., "clock": ...}`` for one version (``"version": null`` and
    ``"clock": {}`` mean "no write": the key was absent), or
    ``{"siblings": [S, ...]}`` for a store returning concurrent siblings, each ``S``
    an object ``{"value": v, "clock": {...}}``, ``{"value": v, "dot": [r, n],
    "clock": {...}}`` or ``{"value": v, "version": V}`` (an empty list: nothing
    found). A sibling given by its dot alone takes the version of the write with
    that dot.

    Without version metadata a read is identified by its value when exactly one
    write of the key (of any status) wrote that value and every write of the key
    has a known value; ``None`` identifies the initial state (no write) when no
    write of the key wrote ``None``. Such a read returned that write's version; a
    write without version metadata is comparable only with itself and with the
    initial state, which is below every write. A write recorded without a version
    (an ``info`` write, typically) takes the version that the reads identifying it by
    value returned, when they all agree.

Order of versions (:func:`version_le`)
    Total versions by their order; clocks pointwise; a dotted version is reflected
    by every version whose history holds its dot; the initial version is below
    every version. Versions of different kinds (a clock and a total version, two
    writes known only by identity) are not comparable: a check that needs such a
    comparison is skipped, never failed. Versions are compared only within one key.

    A read *reflects* a version ``v`` when one of the versions it returned is
    ``>= v`` (``v`` itself, or a version that superseded it), or when it returned
    the very write that created ``v``.

Sessions
    A session is one client process, split after an ``info`` operation (Jepsen: the
    process never continues; a record that continues anyway starts a new session).
    Only ``ok`` operations count. For a session ``s`` and a key ``k``, in ``s``'s order:

    - ``read-your-writes``: every read of ``k`` reflects every earlier write of ``k``
      by ``s``.
    - ``monotonic-reads``: every read of ``k`` reflects every version an earlier read
      of ``k`` by ``s`` returned (a later read may not go back to an older version,
      nor to a concurrent one that misses what was seen).
    - ``monotonic-writes``: every write of ``k`` has a version strictly above the
      versions of ``s``'s earlier writes of ``k`` (an equal, older or concurrent
      version is a violation).
    - ``writes-follow-reads``: every write of ``k`` has a version strictly above every
      version ``s`` read from ``k`` before it. Across keys a write's order after what
      was read is a matter of causality: :func:`~replicheck.histories.checkers.causal.check_causal`
      checks it through reads-from and process order.

Verdict
    ``model`` ``"sessions"``, ``consistency`` the guarantees checked. An anomaly's
    ``type`` is the name of the guarantee violated (the contract's model name, e.g.
    ``"read-your-writes"``), ``ops`` the earlier operation and the violating one,
    ``data`` the ``process``, ``key``, ``guarantee`` and the versions involved.
    ``ruled_out`` holds each violated model and every model implying it (PRAM, causal,
    sequential, linearizable, ...: :func:`replicheck.models.lattice.stronger`);
    ``still_possible`` the guarantees checked that were not violated. Operations
    whose versions were missing or not comparable are skipped and counted in
    ``notes``; a skipped check never becomes a violation. ``counterexample`` is
    ``{"anomaly": type, "operations": [...]}`` for the anomaly with the fewest
    operations (JSON objects, see :func:`operations_json`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal, TypeAlias

from replicheck.histories.history import History, Operation
from replicheck.histories.verdict import Anomaly, Stats, Verdict
from replicheck.histories.wording import process_label
from replicheck.models import lattice
from replicheck.models.clocks import Ordering, VectorClock, descends
from replicheck.models.dvv import Dot, covers

READ_FUNCTIONS: Final = frozenset({"read", "get"})
"""Functions whose completion value is the value of one key read."""

WRITE_FUNCTIONS: Final = frozenset({"write", "put", "update"})
"""Functions that write one key (the value written: see the module docstring)."""

DELETE_FUNCTIONS: Final = frozenset({"delete"})
"""Functions that delete one key (they write the absent value ``None``)."""

CAS_FUNCTIONS: Final = frozenset({"cas"})
"""Compare-and-set on one key: the invocation's value is ``[expected, new]``."""

SESSION_GUARANTEES: Final[tuple[str, ...]] = (
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
)
"""The session guarantees, by their model names (CONTRACTS.md section 4)."""


# ---------------------------------------------------------------------------------------
# Versions


class MetadataError(ValueError):
    """Version metadata that does not have one of the documented shapes."""


@dataclass(frozen=True)
class InitialVersion:
    """The state before any write: below every version."""


INITIAL: Final = InitialVersion()
"""The initial version (no write)."""


@dataclass(frozen=True)
class ClockVersion:
    """A version named by a vector clock: its history is every event the clock covers."""

    clock: VectorClock


@dataclass(frozen=True)
class DottedVersion:
    """A write named by its dot, with the causal context it carried (``None`` when
    unknown: then it is comparable only with itself and the initial version)."""

    dot: Dot
    context: VectorClock | None


@dataclass(frozen=True)
class TotalVersion:
    """A totally ordered version: an int sequence number, or a tuple such as
    ``(timestamp, replica)`` compared lexicographically."""

    order: tuple[Any, ...]


@dataclass(frozen=True)
class WriteRef:
    """The version a write without version metadata created, named by its operation
    id: comparable only with itself and with the initial version."""

    op: int


Version: TypeAlias = InitialVersion | ClockVersion | DottedVersion | TotalVersion | WriteRef
"""One version of one key."""


def _parse_clock(raw: Any) -> VectorClock:
    if isinstance(raw, VectorClock):
        return raw
    try:
        if isinstance(raw, Mapping):
            return VectorClock(dict(raw))
        if isinstance(raw, list | tuple):
            return VectorClock([(r, c) for r, c in raw])
    except (TypeError, ValueError) as error:
        raise MetadataError(f"bad vector clock {raw!r}: {error}") from None
    raise MetadataError(f"a vector clock is an object of replica -> counter, got {raw!r}")


def _parse_dot(raw: Any) -> Dot:
    try:
        if isinstance(raw, Dot):
            return raw
        if isinstance(raw, Mapping):
            return Dot(raw["replica"], raw["counter"])
        if isinstance(raw, list | tuple) and len(raw) == 2:
            return Dot(raw[0], raw[1])
    except (KeyError, TypeError, ValueError) as error:
        raise MetadataError(f"bad dot {raw!r}: {error}") from None
    raise MetadataError(f"a dot is [replica, counter], got {raw!r}")


def _parse_total(raw: Any) -> tuple[Any, ...]:
    def part(x: Any) -> Any:
        if isinstance(x, bool) or x is None:
            raise MetadataError(f"a version is an int or a list of ints and strings, got {raw!r}")
        if isinstance(x, int | str):
            return x
        if isinstance(x, float | Decimal):
            return x
        if isinstance(x, list | tuple):
            return tuple(part(y) for y in x)
        raise MetadataError(f"a version is an int or a list of ints and strings, got {raw!r}")

    if isinstance(raw, list | tuple):
        return tuple(part(x) for x in raw)
    return (part(raw),)


_VERSION_FIELDS: Final = ("dot", "clock", "version")


def has_version(meta: Mapping[str, Any]) -> bool:
    """True when ``meta`` carries one of the version fields ``version``, ``clock``,
    ``dot``."""
    return any(name in meta for name in _VERSION_FIELDS)


def parse_version(meta: Mapping[str, Any]) -> Version | None:
    """The version described by ``meta`` (an operation's meta, a sibling or a replica
    entry): ``dot`` (+ ``clock`` context) -> :class:`DottedVersion`, ``clock`` ->
    :class:`ClockVersion`, ``version`` -> :class:`TotalVersion`; ``None`` when none of
    these fields is present. ``"version": null``, ``"clock": null`` and the empty clock
    mean the initial version. Raises :class:`MetadataError` for a malformed field."""
    if "dot" in meta and meta["dot"] is not None:
        context = meta.get("clock")
        return DottedVersion(_parse_dot(meta["dot"]),
                             None if context is None else _parse_clock(context))
    if "clock" in meta:
        if meta["clock"] is None:
            return INITIAL
        clock = _parse_clock(meta["clock"])
        return INITIAL if not clock else ClockVersion(clock)
    if "version" in meta:
        if meta["version"] is None:
            return INITIAL
        return TotalVersion(_parse_total(meta["version"]))
    return None


def version_le(a: Version, b: Version) -> bool | None:
    """Whether ``a <= b`` (``b`` is ``a`` or supersedes it); ``None`` when the two
    cannot be compared (different kinds, or a write known only by identity).

    Total versions compare by their order, clocks pointwise; a dotted version ``a`` is
    ``<= b`` when ``b``'s history (its context and dot, or its clock) holds ``a``'s dot;
    a clock is ``<=`` a dotted version when the dotted version's history holds every
    event of the clock. The initial version is below everything."""
    if isinstance(a, InitialVersion):
        return True
    if isinstance(b, InitialVersion):
        return False
    if isinstance(a, WriteRef) or isinstance(b, WriteRef):
        if isinstance(a, WriteRef) and isinstance(b, WriteRef) and a.op == b.op:
            return True
        return None
    if isinstance(a, TotalVersion) or isinstance(b, TotalVersion):
        if not (isinstance(a, TotalVersion) and isinstance(b, TotalVersion)):
            return None
        if len(a.order) != len(b.order):
            return None
        try:
            return bool(a.order <= b.order)
        except TypeError:
            return None
    if isinstance(a, ClockVersion):
        if isinstance(b, ClockVersion):
            return descends(b.clock, a.clock)
        if b.context is None:
            return None
        for replica, counter in a.clock.items():
            if b.context.counter(replica) >= counter:
                continue
            if (replica == b.dot.replica and b.dot.counter == counter
                    and b.context.counter(replica) >= counter - 1):
                continue
            return False
        return True
    if isinstance(b, DottedVersion):
        if a.dot == b.dot:
            return True
        if b.context is None:
            return None
        return covers(b.context, a.dot)
    return covers(b.clock, a.dot)


def compare_versions(a: Version, b: Version) -> Ordering | None:
    """How ``a`` relates to ``b`` (``BEFORE``: ``a < b``), or ``None`` when unknown.

    When one direction is known to hold and the other is unknown, two versions of
    different writes are taken as ordered (versions form a partial order)."""
    le, ge = version_le(a, b), version_le(b, a)
    if le is None or ge is None:
        distinct = version_id(a) is not None and version_id(a) != version_id(b)
        if distinct and le is True:
            return Ordering.BEFORE
        if distinct and ge is True:
            return Ordering.AFTER
        return None
    if le and ge:
        return Ordering.EQUAL
    if le:
        return Ordering.BEFORE
    if ge:
        return Ordering.AFTER
    return Ordering.CONCURRENT


def reflects(returned: Sequence[Version], version: Version) -> bool | None:
    """Whether a read that returned ``returned`` (its siblings; empty: nothing found)
    reflects ``version``: some returned version is ``>= version``. ``None`` when no
    returned version is known to be, and some comparison was unknown."""
    unknown = False
    for candidate in returned or (INITIAL,):
        le = version_le(version, candidate)
        if le:
            return True
        if le is None:
            unknown = True
    return None if unknown else False


def format_version(version: Version) -> str:
    """A short human-readable form of a version, for explanations."""
    if isinstance(version, InitialVersion):
        return "initial (no write)"
    if isinstance(version, ClockVersion):
        return _format_clock(version.clock)
    if isinstance(version, DottedVersion):
        context = "?" if version.context is None else _format_clock(version.context)
        return f"dot {version.dot.replica}:{version.dot.counter} context {context}"
    if isinstance(version, TotalVersion):
        if len(version.order) == 1:
            return json.dumps(_plain(version.order[0]))
        return json.dumps(_plain(version.order))
    return f"the version written by op {version.op}"


def _format_clock(clock: VectorClock) -> str:
    return "{" + ", ".join(f"{r}: {c}" for r, c in clock.items()) + "}"


def version_id(version: Version) -> Hashable | None:
    """A hashable name of the write that created ``version`` (total versions and
    dots name one write; so does a full clock); ``None`` for the initial version."""
    if isinstance(version, TotalVersion):
        return ("version", version.order)
    if isinstance(version, DottedVersion):
        return ("dot", version.dot.replica, version.dot.counter)
    if isinstance(version, ClockVersion):
        return ("clock", version.clock.entries)
    if isinstance(version, WriteRef):
        return ("op", version.op)
    return None


# ---------------------------------------------------------------------------------------
# JSON-ish canonical forms


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True,
                                                                           default=repr))
    if isinstance(value, bytes):
        return value.hex()
    return repr(value)


def canonical(value: Any) -> str:
    """A canonical JSON text of a value: equal for values a JSON round trip makes
    equal (tuples as lists, mapping order ignored, integral Decimals as ints)."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))


def canonical_key(key: Any) -> str:
    """The canonical text of a key: :func:`canonical`, with a 1-element list or tuple
    taken as its element (``"k"`` and ``("k",)`` are the same key), and each part that
    is a binary or a number that is not integral tagged as in DynamoDB JSON
    (:func:`~replicheck.models.items.values.key_part_json`: ``b"k"`` is not the
    string ``"6b"``, and two numbers that differ past a float's precision stay apart)."""
    from replicheck.models.items.values import key_part_json

    if isinstance(key, list | tuple) and len(key) == 1:
        key = key[0]
    if isinstance(key, list | tuple):
        return canonical([key_part_json(part) for part in key])
    return canonical(key_part_json(key))


def show(value: Any, limit: int = 60) -> str:
    """A short display form of a value for explanations (JSON, truncated)."""
    text = json.dumps(_plain(value), sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------
# The catalog of writes, and what reads returned


OpKind = Literal["read", "write"]


def op_kind(op: Operation) -> OpKind | None:
    """``"read"`` for a single-key read, ``"write"`` for a single-key write, delete or
    cas, ``None`` for anything else."""
    if op.f in READ_FUNCTIONS:
        return "read"
    if op.f in WRITE_FUNCTIONS or op.f in DELETE_FUNCTIONS or op.f in CAS_FUNCTIONS:
        return "write"
    return None


def written_value(op: Operation) -> tuple[bool, Any]:
    """``(known, value)``: the value a write wrote (see the module docstring)."""
    if "item" in op.meta:
        return True, op.meta["item"]
    if op.f in DELETE_FUNCTIONS:
        return True, None
    if op.f in CAS_FUNCTIONS:
        if isinstance(op.input, list | tuple) and len(op.input) == 2:
            return True, op.input[1]
        return False, None
    if op.f in ("write", "put"):
        return True, op.input
    return False, None


def applied(op: Operation) -> bool:
    """False when an ``ok`` write says it applied nothing (``meta["applied"] is
    False``), or is a ``cas`` whose compare failed (output ``false``: it wrote
    nothing)."""
    if op.f in CAS_FUNCTIONS and op.output is False:
        return False
    return op.meta.get("applied", True) is not False


@dataclass(frozen=True)
class Observed:
    """What a read returned: its ``versions`` (the siblings; ``None`` when unknown)
    and ``sources``, the ids of the writes it is known to have returned."""

    versions: tuple[Version, ...] | None
    sources: frozenset[int] = frozenset()


class Catalog:
    """Every write of a history indexed by key, value and version, to resolve what
    each read returned. Malformed metadata is counted in ``malformed`` and treated
    as missing."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.malformed = 0
        self._versions: dict[int, Version] = {}
        self._by_value: dict[str, dict[str, list[int]]] = {}
        self._opaque: set[str] = set()
        self._null_written: set[str] = set()
        self._by_version: dict[str, dict[Hashable, list[int]]] = {}
        self.writes: dict[str, list[Operation]] = {}
        for op in history.operations:
            if op_kind(op) != "write":
                continue
            key = canonical_key(op.key)
            known, value = written_value(op)
            if not known:
                self._opaque.add(key)
            elif value is None:
                self._null_written.add(key)
            else:
                self._by_value.setdefault(key, {}).setdefault(canonical(value), []).append(op.id)
            if op.failed or not applied(op):
                continue
            self.writes.setdefault(key, []).append(op)
            version = self._parse(op.meta)
            if version is None or isinstance(version, InitialVersion):
                version = WriteRef(op.id)
            self._versions[op.id] = version
        self._learn_versions(history)
        for key, writes in self.writes.items():
            for op in writes:
                name = version_id(self._versions[op.id])
                if name is not None:
                    self._by_version.setdefault(key, {}).setdefault(name, []).append(op.id)

    def _learn_versions(self, history: History) -> None:
        """A write recorded without a version (an ``info`` write, typically) takes the
        version that reads identifying it by its unique value saw, when they agree."""
        learned: dict[int, set[Version]] = {}
        for op in history.operations:
            if not op.ok or op_kind(op) != "read":
                continue
            key = canonical_key(op.key)
            seen: list[tuple[Any, Mapping[str, Any]]] = []
            if isinstance(op.meta.get("siblings"), list | tuple):
                seen = [(s.get("value"), s) for s in op.meta["siblings"]
                        if isinstance(s, Mapping) and "value" in s]
            elif has_version(op.meta):
                seen = [(op.output, op.meta)]
            for value, meta in seen:
                writer = self.identify(key, value)
                if not isinstance(writer, int) or not isinstance(
                        self._versions.get(writer), WriteRef):
                    continue
                try:
                    version = parse_version(meta)
                except MetadataError:
                    continue
                if version is not None and not isinstance(version, InitialVersion):
                    learned.setdefault(writer, set()).add(version)
        for writer, versions in learned.items():
            if len(versions) == 1:
                self._versions[writer] = versions.pop()

    def _parse(self, meta: Mapping[str, Any]) -> Version | None:
        try:
            return parse_version(meta)
        except MetadataError:
            self.malformed += 1
            return None

    def write_version(self, op: Operation) -> Version:
        """The version a (non-failed) write created: from its metadata, else
        :class:`WriteRef`."""
        return self._versions.get(op.id, WriteRef(op.id))

    def writer_of(self, key: str, version: Version) -> int | None:
        """The id of the one write of ``key`` that created ``version``, if known."""
        name = version_id(version)
        if name is None:
            return None
        found = self._by_version.get(key, {}).get(name, [])
        return found[0] if len(found) == 1 else None

    def identify(self, key: str, value: Any) -> InitialVersion | int | None:
        """The write (its id) that wrote ``value`` to ``key``, :data:`INITIAL` for
        ``None`` when no write wrote ``None``, or ``None`` when ambiguous."""
        if key in self._opaque:
            return None
        if value is None:
            return None if key in self._null_written else INITIAL
        found = self._by_value.get(key, {}).get(canonical(value), [])
        return found[0] if len(found) == 1 else None

    def _resolve(self, key: str, version: Version) -> tuple[Version, int | None]:
        writer = self.writer_of(key, version)
        if (isinstance(version, DottedVersion) and version.context is None
                and writer is not None):
            version = self.write_version(self.history.operation(writer))
        return version, writer

    def observe(self, op: Operation) -> Observed:
        """What read ``op`` returned (see the module docstring)."""
        key = canonical_key(op.key)
        meta = op.meta
        if "siblings" in meta:
            raw = meta["siblings"]
            if not isinstance(raw, list | tuple):
                self.malformed += 1
                return Observed(None)
            versions: list[Version] = []
            sources: set[int] = set()
            for entry in raw:
                parsed = self._parse(entry) if isinstance(entry, Mapping) else None
                if parsed is None and isinstance(entry, Mapping) and not has_version(entry):
                    try:
                        parsed = ClockVersion(_parse_clock(entry))
                    except MetadataError:
                        parsed = None
                if parsed is None:
                    return Observed(None)
                version, writer = self._resolve(key, parsed)
                versions.append(version)
                if writer is not None:
                    sources.add(writer)
            return Observed(tuple(v for v in versions if not isinstance(v, InitialVersion)),
                            frozenset(sources))
        if has_version(meta):
            parsed = self._parse(meta)
            if parsed is None:
                return Observed(None)
            version, writer = self._resolve(key, parsed)
            if writer is None and not isinstance(version, InitialVersion):
                found = self.identify(key, op.output)
                writer = found if isinstance(found, int) else None
            return Observed((version,), frozenset() if writer is None else frozenset({writer}))
        found = self.identify(key, op.output)
        if found is None:
            return Observed(None)
        if isinstance(found, InitialVersion):
            return Observed((INITIAL,))
        return Observed((self.write_version(self.history.operation(found)),),
                        frozenset({found}))


# ---------------------------------------------------------------------------------------
# Frontiers: the maximal versions seen so far


@dataclass(frozen=True)
class Witness:
    """A version, and the operation that wrote (``kind`` ``"write"``) or read it
    (``"read"``), in session ``session``."""

    version: Version
    op: int
    session: Hashable
    kind: OpKind


Frontier: TypeAlias = tuple[Witness, ...]
"""The maximal versions among those added (the first witness of each is kept)."""


def frontier_add(frontier: Frontier, witness: Witness) -> Frontier:
    """``frontier`` with ``witness`` added: unchanged when a kept version is already
    ``>=`` it; otherwise the versions it is known to supersede are dropped."""
    for kept in frontier:
        if version_le(witness.version, kept.version) is True:
            return frontier
    return (*(w for w in frontier if version_le(w.version, witness.version) is not True),
            witness)


def unreflected(observed: Observed, frontier: Frontier) -> tuple[list[Witness], bool]:
    """The witnesses of ``frontier`` a read that returned ``observed`` does not
    reflect, and whether some comparison was unknown."""
    missing: list[Witness] = []
    unknown = False
    assert observed.versions is not None
    for witness in frontier:
        if witness.kind == "write" and witness.op in observed.sources:
            continue
        result = reflects(observed.versions, witness.version)
        if result is False:
            missing.append(witness)
        elif result is None:
            unknown = True
    return missing, unknown


def not_after(version: Version, frontier: Frontier) -> tuple[list[Witness], bool]:
    """The witnesses of ``frontier`` that ``version`` is not strictly above, and
    whether some comparison was unknown."""
    bad: list[Witness] = []
    unknown = False
    for witness in frontier:
        order = compare_versions(witness.version, version)
        if order is None:
            unknown = True
        elif order is not Ordering.BEFORE:
            bad.append(witness)
    return bad, unknown


# ---------------------------------------------------------------------------------------
# Sessions


def sessions(history: History) -> Iterator[tuple[Hashable, list[Operation]]]:
    """Each session's ``ok`` operations in order, with the session's name
    ``(process, n)``: ``n`` counts the ``info`` operations the process completed before
    (0 for a well-formed history)."""
    grouped: dict[Hashable, list[Operation]] = {}
    generation: Counter[Hashable] = Counter()
    for op in history.operations:
        session = (op.process, generation[op.process])
        if op.ok:
            grouped.setdefault(session, []).append(op)
        if op.indeterminate:
            generation[op.process] += 1
    yield from grouped.items()


def session_of(history: History) -> dict[int, Hashable]:
    """The session name (see :func:`sessions`) of every operation id, ``info`` ones
    included (an ``info`` operation ends its session)."""
    names: dict[int, Hashable] = {}
    generation: Counter[Hashable] = Counter()
    for op in history.operations:
        names[op.id] = (op.process, generation[op.process])
        if op.indeterminate:
            generation[op.process] += 1
    return names


def operations_json(history: History, ids: Iterable[int]) -> list[dict[str, Any]]:
    """The operations with these ids as JSON objects (``id``, ``process``, ``f``,
    ``key``, ``input``, ``output``, ``status``, ``meta``), for counterexamples."""
    out = []
    for i in ids:
        op = history.operation(i)
        out.append({"id": op.id, "process": _plain(op.process), "f": op.f,
                    "key": _plain(op.key), "input": _plain(op.input),
                    "output": _plain(op.output), "status": op.status,
                    "meta": _plain(dict(op.meta))})
    return out


def describe_read(op: Operation, observed: Observed) -> str:
    """How a read's result reads in an explanation: value and version(s)."""
    assert observed.versions is not None
    if "siblings" in op.meta:
        if not observed.versions:
            return "no sibling (nothing found)"
        return "siblings " + ", ".join(format_version(v) for v in observed.versions)
    version = observed.versions[0] if observed.versions else INITIAL
    if isinstance(version, InitialVersion) and op.output is None:
        return "nothing (the initial version)"
    return f"{show(op.output)} (version {format_version(version)})"


def show_key(op: Operation) -> str:
    """How an explanation names ``op``'s key: an item's key in DynamoDB's words (``k0``)
    for an operation of an item history's session view (its ``meta`` names the
    table), else :func:`show`."""
    table = op.meta.get("table") if isinstance(op.meta, Mapping) else None
    if isinstance(table, str) and isinstance(op.key, tuple):
        from replicheck.models.items.wording import item_key_text

        return item_key_text(table, {str(i): v for i, v in enumerate(op.key)})
    return show(op.key)


def _show_value(op: Operation, value: Any) -> str:
    """A written value: an item in DynamoDB's words in an item history's view."""
    if isinstance(op.meta, Mapping) and "table" in op.meta and isinstance(value, Mapping):
        from replicheck.models.items.wording import value_text

        return value_text(value)
    return show(value)


def describe_write(op: Operation, version: Version) -> str:
    """How a write reads in an explanation: what it wrote to which key, and its
    version."""
    known, value = written_value(op)
    key = show_key(op)
    what = (f"wrote {_show_value(op, value)} to key {key}" if known
            else f"ran {op.f} on key {key}")
    if op.f in DELETE_FUNCTIONS:
        what = f"deleted key {key}"
    if isinstance(version, WriteRef):
        return f"{what} (op {op.id}, no version recorded)"
    return f"{what} (op {op.id}, version {format_version(version)})"


def relation(returned: Sequence[Version], version: Version) -> str:
    """``"older than"`` when every returned version is below ``version``,
    ``"concurrent with"`` when one is concurrent with it, else ``"not above"``."""
    orders = [compare_versions(r, version) for r in returned or (INITIAL,)]
    if orders and all(o is Ordering.BEFORE for o in orders):
        return "older than"
    if any(o is Ordering.CONCURRENT for o in orders):
        return "concurrent with (and not including)"
    return "not above"


def models_ruled_out(violated: Iterable[str]) -> frozenset[str]:
    """The violated models and every model implying one of them."""
    out: set[str] = set()
    for model in violated:
        out.add(model)
        out.update(lattice.stronger(model))
    return frozenset(out)


def smallest_counterexample(history: History, anomalies: Sequence[Anomaly]) -> Any:
    """The operations of the anomaly with the fewest operations (the first such),
    as JSON objects; ``None`` when there is no anomaly."""
    if not anomalies:
        return None
    best = min(anomalies, key=lambda a: len(a.ops))
    return {"anomaly": best.type, "operations": operations_json(history, best.ops)}


@dataclass
class Tally:
    """Per-guarantee counts of checked and skipped operations, for ``notes``."""

    checked: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def count(self, guarantee: str, *, unknown: bool, found: bool) -> None:
        """Count one check: skipped when a comparison was unknown and nothing found."""
        if unknown and not found:
            self.skipped[guarantee] += 1
        else:
            self.checked[guarantee] += 1

    def notes(self, guarantees: Iterable[str]) -> tuple[str, ...]:
        """One note per guarantee with skipped operations."""
        out = []
        for g in guarantees:
            if self.skipped[g]:
                out.append(
                    f"{g}: {self.skipped[g]} operation(s) skipped (a version needed was missing "
                    f"or not comparable); {self.checked[g]} checked")
        return tuple(out)


def _check_names(guarantees: Iterable[str]) -> tuple[str, ...]:
    if isinstance(guarantees, str):
        raise TypeError(f"expected a collection of guarantee names, got the string "
                        f"{guarantees!r}")
    chosen = tuple(dict.fromkeys(guarantees))
    unknown = [g for g in chosen if g not in SESSION_GUARANTEES]
    if unknown:
        raise ValueError(f"unknown session guarantee(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(SESSION_GUARANTEES)}")
    return chosen


def check_sessions(history: History,
                   guarantees: Iterable[str] = SESSION_GUARANTEES) -> Verdict:
    """Check the session guarantees ``guarantees`` (a subset of
    :data:`SESSION_GUARANTEES`) on ``history``, as the module docstring defines them.

    Returns a Verdict with ``model`` ``"sessions"``: valid when no checked guarantee
    is violated (checks that lacked versions are skipped and counted in ``notes``,
    never reported). Raises ``ValueError`` for an unknown guarantee name."""
    started = time.perf_counter()
    chosen = _check_names(guarantees)
    catalog = Catalog(history)
    tally = Tally()
    anomalies: list[Anomaly] = []
    for session, ops in sessions(history):
        process = session[0] if isinstance(session, tuple) else session
        writes: dict[str, Frontier] = {}
        reads: dict[str, Frontier] = {}
        for op in ops:
            kind = op_kind(op)
            if kind is None:
                continue
            key = canonical_key(op.key)
            if kind == "read":
                observed = catalog.observe(op)
                if observed.versions is None:
                    for g, seen in (("read-your-writes", writes), ("monotonic-reads", reads)):
                        if g in chosen and seen.get(key):
                            tally.skipped[g] += 1
                    continue
                for g, seen in (("read-your-writes", writes), ("monotonic-reads", reads)):
                    if g not in chosen or not seen.get(key):
                        continue
                    missing, unknown = unreflected(observed, seen[key])
                    tally.count(g, unknown=unknown, found=bool(missing))
                    if missing:
                        anomalies.append(_read_anomaly(g, history, process, op, observed,
                                                       max(missing, key=lambda w: w.op)))
                for version in observed.versions or (INITIAL,):
                    reads[key] = frontier_add(reads.get(key, ()),
                                              Witness(version, op.id, session, "read"))
                continue
            if not applied(op):
                continue
            version = catalog.write_version(op)
            for g, seen in (("monotonic-writes", writes), ("writes-follow-reads", reads)):
                if g not in chosen or not seen.get(key):
                    continue
                bad, unknown = not_after(version, seen[key])
                tally.count(g, unknown=unknown, found=bool(bad))
                if bad:
                    anomalies.append(_write_anomaly(g, history, process, op, version,
                                                    max(bad, key=lambda w: w.op)))
            writes[key] = frontier_add(writes.get(key, ()), Witness(version, op.id, session,
                                                                    "write"))
    violated = {a.type for a in anomalies}
    ruled = models_ruled_out(violated)
    notes = tally.notes(chosen)
    if catalog.malformed:
        notes += (f"{catalog.malformed} malformed version field(s) treated as missing",)
    return Verdict(
        valid=not anomalies,
        model="sessions",
        consistency=chosen,
        anomalies=tuple(anomalies),
        ruled_out=ruled,
        still_possible=frozenset(g for g in chosen if g not in ruled),
        counterexample=smallest_counterexample(history, anomalies),
        stats=Stats(operations=len(history.operations),
                    seconds=time.perf_counter() - started),
        notes=notes,
    )


def _read_anomaly(guarantee: str, history: History, process: Hashable, op: Operation,
                  observed: Observed, missing: Witness) -> Anomaly:
    earlier = history.operation(missing.op)
    assert observed.versions is not None
    key = show_key(op)
    if guarantee == "read-your-writes":
        before = f"{process_label(earlier)} {describe_write(earlier, missing.version)}"
        lead, again = "its own write", ""
    else:
        before = (f"{process_label(earlier)} read key {key} (op {earlier.id}) and got "
                  f"version {format_version(missing.version)}")
        lead, again = "what it had already read", " again"
    explanation = (
        f"{before}, then read key {key}{again} (op {op.id}) and got "
        f"{describe_read(op, observed)}, which is "
        f"{relation(observed.versions, missing.version)} {format_version(missing.version)}: "
        f"the read does not reflect {lead} ({guarantee} violated)."
    )
    return Anomaly(guarantee, (earlier.id, op.id), explanation, {
        "guarantee": guarantee, "process": process, "key": op.key,
        "expected_at_least": format_version(missing.version),
        "returned": [format_version(v) for v in observed.versions],
    })


def _write_anomaly(guarantee: str, history: History, process: Hashable, op: Operation,
                   version: Version, earlier_witness: Witness) -> Anomaly:
    earlier = history.operation(earlier_witness.op)
    key = show_key(op)
    order = compare_versions(earlier_witness.version, version)
    how = {Ordering.EQUAL: "the same as", Ordering.AFTER: "older than",
           Ordering.CONCURRENT: "concurrent with"}.get(order or Ordering.EQUAL, "not above")
    if guarantee == "monotonic-writes":
        before = (f"{process_label(earlier)} "
                  f"{describe_write(earlier, earlier_witness.version)}")
        lead = "its earlier write"
    else:
        before = (f"{process_label(earlier)} read key {key} (op {earlier.id}) and got "
                  f"version {format_version(earlier_witness.version)}")
        lead = "the version it had read"
    explanation = (
        f"{before}, then {describe_write(op, version)}; the new version is "
        f"{how} {format_version(earlier_witness.version)}, so the write is not ordered "
        f"after {lead} ({guarantee} violated)."
    )
    return Anomaly(guarantee, (earlier.id, op.id), explanation, {
        "guarantee": guarantee, "process": process, "key": op.key,
        "earlier": format_version(earlier_witness.version),
        "written": format_version(version),
    })
