"""Convergence after healing and anti-entropy, Merkle roots that are equal exactly
when contents are, and no acknowledged write lost.

Guarantees decided: ``convergence``, ``merkle-root-iff-equal`` and
``anti-entropy-exact`` (CONTRACTS.md section 4).

Observation records read
    Records of type ``observe`` with ``f == "replicas"``: a snapshot of every replica
    of one table. The value is a JSON object::

        {"table": "t",                         # optional when the history has one table
         "quiescent": true,                    # faults healed, nothing in flight, and
                                               # the store's repair/anti-entropy done
         "anti_entropy": true,                 # optional; default: true when "roots"
                                               # is given. A full anti-entropy round ran.
         "replicas": {node: {key_repr: entry}},
         "roots": {node: {range_name: hex}},   # optional: the node's Merkle root per range
         "ranges": {range_name: {"lo": int, "hi": int}      # optional: token range
                                 | {"keys": [key_repr, ...]},   # or the range's keys
                    ...}}                      # either form may add "replicas": [node]

    ``key_repr`` is the key as JSON text (``json.dumps`` of the key, a composite key as
    a list: ``"[\\"user\\", 7]"``, ``"\\"k1\\""``); text that is not JSON is taken as a
    string key. A token range holds the keys whose
    :func:`replicheck.models.merkle.key_token` lies in ``[lo, hi)``. The replicas of a
    range are its ``"replicas"`` list when given, else the nodes reporting a root for
    it. Without ``"ranges"`` every node is a replica of every key (then nodes must
    report the same range names, or divergence is not judged).

    An ``entry`` is what the node holds for the key:

    - ``{"value": v, "version": V}`` / ``{"value": v, "clock": {...}}`` /
      ``{"value": v, "dot": [r, n], "clock": {...}}``: one version (the version forms of
      :mod:`replicheck.histories.checkers.sessions`); a tombstone is ``{"value": null,
      ...}`` with the delete's version;
    - ``{"siblings": [{"value": v, <version>}, ...], "clock": {...}}``: concurrent
      siblings and the causal context;
    - anything else: a bare value without a version (only value comparisons apply).

    Two entries are the same when their canonical JSON is (sibling order ignored).
    A node's Merkle root for a range must be a function of exactly the entries it
    reports for the keys of that range (value and version metadata).

    Operations: the single-key writes, deletes and cas of the sessions module, with
    ``meta["table"]`` naming the table when the history has several, and their
    version metadata. ``meta["applied"] = false`` marks an ``ok`` write that applied
    nothing.

What is checked
    - ``convergence`` (``anti-entropy-exact`` too when the snapshot says anti-entropy
      ran): in the LAST ``replicas`` snapshot of each table, when it is quiescent, all
      replicas of each key hold the same entry. A difference is a ``divergence``.
    - No acknowledged write lost, in that snapshot: every ``ok`` write completed before
      it (``ret`` index at most the snapshot's) is held by some replica of its key as
      itself or superseded (a held version ``>=`` the write's: a later last-writer-wins
      version, a clock or dotted version that has seen it); a key held nowhere counts
      as superseded only by a delete (``ok`` or ``info``) whose version is ``>=``. A
      missing write is a ``lost-sibling`` when a held version is concurrent with it (a
      concurrent write dropped instead of kept as a sibling), else a ``lost-write``; an
      ``ok`` delete whose key comes back with only older versions is a ``lost-write``.
      Without versions, a write of a key that no operation deleted, held by no
      replica, is a ``lost-write``; other version-less cases are skipped.
    - ``merkle-root-iff-equal``, in EVERY ``replicas`` snapshot with roots: for each
      range, two of its replicas report equal roots exactly when they hold equal
      entries for the range's keys (without ``"ranges"``: for two nodes reporting the
      same range names, all roots equal exactly when all entries are equal). Either
      direction failing is a ``merkle-mismatch`` (equal roots over different contents
      only happen with a colliding hash).

Verdict
    ``model`` ``"convergence"``, ``consistency`` the guarantees checked. Anomaly types
    ``divergence``, ``lost-write``, ``lost-sibling``, ``merkle-mismatch`` (guarantee
    checks, not Elle anomalies); ``data["guarantees"]`` names the guarantees each one
    violates (lost writes violate ``convergence``), plus ``table``, ``key`` /
    ``range``, the observation's record ``index`` and the entries involved; ``ops``
    the writes involved. A divergence or a lost write rules out ``eventual`` and every
    model implying it; ``still_possible`` is ``{"eventual"}`` when a quiescent final
    snapshot was judged and nothing ruled it out. Malformed snapshots, missing
    snapshots and version-less cases are explained in ``notes``, never reported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from replicheck.histories.checkers.sessions import (
    DELETE_FUNCTIONS,
    Catalog,
    MetadataError,
    Version,
    WriteRef,
    applied,
    canonical,
    canonical_key,
    compare_versions,
    format_version,
    has_version,
    models_ruled_out,
    op_kind,
    operations_json,
    parse_version,
    reflects,
    show,
    version_le,
    written_value,
)
from replicheck.histories.history import History, Operation, Record
from replicheck.histories.verdict import Anomaly, Stats, Verdict
from replicheck.histories.wording import process_label
from replicheck.models.clocks import Ordering
from replicheck.models.items.values import key_part_from_json
from replicheck.models.merkle import key_token

REPLICAS: Final = "replicas"
"""The ``f`` of replica-snapshot observation records."""

CONVERGENCE_GUARANTEES: Final[tuple[str, ...]] = (
    "convergence", "merkle-root-iff-equal", "anti-entropy-exact")
"""The guarantees :func:`check_convergence` decides."""


class SnapshotError(ValueError):
    """A ``replicas`` observation that does not have the documented shape."""


@dataclass(frozen=True)
class ReplicaEntry:
    """What one node holds for one key: the raw JSON, its canonical text, the
    value(s), and the versions (``None`` for a bare value without version)."""

    raw: Any
    canon: str
    values: tuple[Any, ...]
    versions: tuple[Version, ...] | None
    siblings: bool

    def describe(self) -> str:
        """A short display form for explanations."""
        if self.siblings:
            if not self.values:
                return "no sibling"
            assert self.versions is not None
            return "siblings " + ", ".join(
                f"{show(v)} ({format_version(ver)})"
                for v, ver in zip(self.values, self.versions, strict=True))
        if self.versions is None:
            return show(self.values[0])
        return f"{show(self.values[0])} (version {format_version(self.versions[0])})"


def parse_entry(raw: Any) -> ReplicaEntry:
    """A replica entry (see the module docstring). Raises :class:`SnapshotError`."""
    try:
        if isinstance(raw, Mapping) and "siblings" in raw:
            siblings = raw["siblings"]
            if not isinstance(siblings, list | tuple):
                raise SnapshotError(f"siblings must be a list, got {siblings!r}")
            versions: list[Version] = []
            values = []
            for sibling in siblings:
                if not isinstance(sibling, Mapping):
                    raise SnapshotError(f"a sibling is an object, got {sibling!r}")
                version = parse_version(sibling)
                if version is None:
                    raise SnapshotError(f"sibling {sibling!r} has no version")
                versions.append(version)
                values.append(sibling.get("value"))
            canon = canonical({**raw, "siblings": sorted(canonical(s) for s in siblings)})
            return ReplicaEntry(raw, canon, tuple(values), tuple(versions), True)
        if isinstance(raw, Mapping) and "value" in raw:
            version = parse_version(raw) if has_version(raw) else None
            return ReplicaEntry(raw, canonical(raw), (raw["value"],),
                                None if version is None else (version,), False)
    except MetadataError as error:
        raise SnapshotError(str(error)) from None
    return ReplicaEntry(raw, canonical(raw), (raw,), None, False)


def decode_key(key_repr: str) -> Any:
    """The key a ``key_repr`` names: its JSON value (lists as tuples; a tagged number
    ``{"N": text}`` or binary ``{"B": base64}`` as a Decimal or bytes:
    :func:`~replicheck.models.items.values.key_text`), or the text itself when it is
    not JSON."""
    try:
        value = json.loads(key_repr)
    except (TypeError, ValueError):
        return key_repr
    return _tuples(value)


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return key_part_from_json(value)


@dataclass(frozen=True)
class KeyRange:
    """One key range: a token range ``[lo, hi)`` or an explicit set of canonical keys,
    and its replicas when listed."""

    name: str
    lo: int | None = None
    hi: int | None = None
    keys: frozenset[str] | None = None
    replicas: tuple[str, ...] | None = None

    def contains(self, canon: str, key: Any) -> bool | None:
        """Whether the key is in the range; ``None`` when its token cannot be computed."""
        if self.keys is not None:
            return canon in self.keys
        assert self.lo is not None and self.hi is not None
        try:
            token = key_token(key[0] if isinstance(key, tuple) and len(key) == 1 else key)
        except (TypeError, ValueError):
            return None
        return self.lo <= token < self.hi


@dataclass(frozen=True)
class Snapshot:
    """One parsed ``replicas`` observation."""

    record: Record
    table: str | None
    quiescent: bool
    anti_entropy: bool
    replicas: Mapping[str, Mapping[str, ReplicaEntry]]
    keys: Mapping[str, Any]
    roots: Mapping[str, Mapping[str, str]]
    ranges: Mapping[str, KeyRange] | None = None

    @property
    def where(self) -> str:
        """How explanations name this snapshot."""
        table = f", table {self.table!r}" if self.table is not None else ""
        return f"the replicas observation at record {self.record.index}{table}"

    def holders(self, name: str) -> tuple[str, ...]:
        """The replicas of range ``name``."""
        assert self.ranges is not None
        spec = self.ranges[name]
        if spec.replicas is not None:
            return spec.replicas
        with_root = tuple(n for n in self.replicas if name in self.roots.get(n, {}))
        return with_root or tuple(self.replicas)

    def key_ranges(self, canon: str) -> list[str] | None:
        """The ranges holding a key; ``None`` when it cannot be told."""
        assert self.ranges is not None
        out = []
        for name, spec in self.ranges.items():
            inside = spec.contains(canon, self.keys.get(canon, decode_key(canon)))
            if inside is None:
                return None
            if inside:
                out.append(name)
        return out


def parse_snapshot(record: Record) -> Snapshot:
    """A ``replicas`` observation record as a :class:`Snapshot`; raises
    :class:`SnapshotError` naming what is wrong."""
    value = record.value
    if not isinstance(value, Mapping):
        raise SnapshotError(f"a replicas observation is an object, got {type(value).__name__}")
    raw_replicas = value.get("replicas")
    if not isinstance(raw_replicas, Mapping):
        raise SnapshotError("a replicas observation needs \"replicas\": {node: {key: entry}}")
    replicas: dict[str, dict[str, ReplicaEntry]] = {}
    keys: dict[str, Any] = {}
    for node, held in raw_replicas.items():
        if not isinstance(held, Mapping):
            raise SnapshotError(f"replica {node!r} must map keys to entries, got {held!r}")
        mine: dict[str, ReplicaEntry] = {}
        for key_repr, raw in held.items():
            key = decode_key(str(key_repr))
            canon = canonical_key(key)
            keys.setdefault(canon, key)
            mine[canon] = parse_entry(raw)
        replicas[str(node)] = mine
    raw_roots = value.get("roots") or {}
    if not isinstance(raw_roots, Mapping) or not all(
            isinstance(r, Mapping) for r in raw_roots.values()):
        raise SnapshotError("\"roots\" must be {node: {range: hex}}")
    roots = {str(n): {str(k): str(v) for k, v in r.items()} for n, r in raw_roots.items()}
    ranges: dict[str, KeyRange] | None = None
    if value.get("ranges") is not None:
        ranges = {}
        if not isinstance(value["ranges"], Mapping):
            raise SnapshotError("\"ranges\" must be {range: {\"lo\", \"hi\"} or {\"keys\"}}")
        for name, spec in value["ranges"].items():
            ranges[str(name)] = _parse_range(str(name), spec)
    table = value.get("table")
    return Snapshot(
        record=record,
        table=None if table is None else str(table),
        quiescent=value.get("quiescent") is True,
        anti_entropy=bool(value.get("anti_entropy", bool(roots))),
        replicas=replicas,
        keys=keys,
        roots=roots,
        ranges=ranges,
    )


def _parse_range(name: str, spec: Any) -> KeyRange:
    if not isinstance(spec, Mapping):
        raise SnapshotError(f"range {name!r} must be an object, got {spec!r}")
    listed = spec.get("replicas")
    holders = None if listed is None else tuple(str(n) for n in listed)
    if "keys" in spec:
        return KeyRange(name, keys=frozenset(canonical_key(decode_key(str(k)))
                                             for k in spec["keys"]), replicas=holders)
    lo, hi = spec.get("lo"), spec.get("hi")
    if not (isinstance(lo, int) and isinstance(hi, int)) or isinstance(lo, bool):
        raise SnapshotError(f"range {name!r} needs integer \"lo\" and \"hi\" or \"keys\"")
    return KeyRange(name, lo=lo, hi=hi, replicas=holders)


# ---------------------------------------------------------------------------------------


def check_convergence(history: History) -> Verdict:
    """Check the ``replicas`` observations of ``history`` (and its writes) for
    convergence, merkle-root-iff-equal and anti-entropy-exact, as the module docstring
    defines them. Returns a Verdict with ``model`` ``"convergence"``."""
    started = time.perf_counter()
    run = _Run(history)
    finals: dict[str | None, Snapshot] = {}
    for record in history.observations:
        if record.f != REPLICAS:
            continue
        try:
            snapshot = parse_snapshot(record)
        except SnapshotError as error:
            run.notes.append(f"replicas observation at record {record.index} skipped: {error}")
            continue
        run.merkle(snapshot)
        finals[snapshot.table] = snapshot
    judged = False
    for snapshot in finals.values():
        if not snapshot.quiescent:
            run.notes.append(f"{snapshot.where} is the last of its table but not quiescent: "
                             "convergence and lost writes not judged")
            continue
        judged = True
        run.consistency.add("convergence")
        if snapshot.anti_entropy:
            run.consistency.add("anti-entropy-exact")
        run.divergence(snapshot)
        run.lost_writes(snapshot, finals)
    if not finals:
        run.notes.append("no replicas observation: nothing to judge")
    anomalies = run.anomalies
    violated = {"eventual"} if any(a.type != "merkle-mismatch" for a in anomalies) else set()
    ruled = models_ruled_out(violated)
    counterexample = None
    if anomalies:
        best = min(anomalies, key=lambda a: len(a.ops))
        counterexample = {"anomaly": best.type,
                          **{k: v for k, v in best.data.items() if k != "guarantees"},
                          "operations": operations_json(history, best.ops)}
    return Verdict(
        valid=not anomalies,
        model="convergence",
        consistency=tuple(g for g in CONVERGENCE_GUARANTEES if g in run.consistency),
        anomalies=tuple(anomalies),
        ruled_out=ruled,
        still_possible=frozenset({"eventual"}) if judged and not ruled else frozenset(),
        counterexample=counterexample,
        stats=Stats(operations=len(history.operations), seconds=time.perf_counter() - started),
        notes=tuple(run.notes),
    )


class _Run:
    def __init__(self, history: History) -> None:
        self.history = history
        self.catalog = Catalog(history)
        self.anomalies: list[Anomaly] = []
        self.notes: list[str] = []
        self.consistency: set[str] = set()

    # ---- which replicas hold which keys

    def _groups(self, snapshot: Snapshot) -> list[tuple[str | None, tuple[str, ...], list[str]]]:
        """(range, its replicas, its keys) to compare; empty when it cannot be told."""
        if snapshot.ranges is None:
            names = {frozenset(snapshot.roots.get(n, {})) for n in snapshot.replicas}
            if snapshot.roots and len(names) > 1:
                self.notes.append(
                    f"{snapshot.where}: nodes report different ranges and no \"ranges\" says "
                    "which keys each holds: divergence not judged")
                return []
            every = sorted({k for held in snapshot.replicas.values() for k in held})
            return [(None, tuple(snapshot.replicas), every)]
        groups: list[tuple[str | None, tuple[str, ...], list[str]]] = []
        unknown = 0
        for name in snapshot.ranges:
            holders = snapshot.holders(name)
            keys = set()
            for node in holders:
                for canon in snapshot.replicas.get(node, {}):
                    inside = snapshot.ranges[name].contains(
                        canon, snapshot.keys.get(canon, decode_key(canon)))
                    if inside is None:
                        unknown += 1
                    elif inside:
                        keys.add(canon)
            groups.append((name, holders, sorted(keys)))
        if unknown:
            self.notes.append(f"{snapshot.where}: {unknown} key(s) whose token could not be "
                              "computed were not judged")
        return groups

    def _holders_of(self, snapshot: Snapshot, canon: str) -> tuple[str, ...] | None:
        if snapshot.ranges is None:
            return tuple(snapshot.replicas)
        names = snapshot.key_ranges(canon)
        if names is None:
            return None
        return tuple(dict.fromkeys(n for name in names for n in snapshot.holders(name)))

    # ---- convergence

    def divergence(self, snapshot: Snapshot) -> None:
        """Every replica of every key holds the same entry."""
        guarantees = ["convergence"] + (["anti-entropy-exact"] if snapshot.anti_entropy else [])
        for range_name, holders, keys in self._groups(snapshot):
            for canon in keys:
                entries = {n: snapshot.replicas.get(n, {}).get(canon) for n in holders}
                if len({None if e is None else e.canon for e in entries.values()}) <= 1:
                    continue
                key = snapshot.keys.get(canon, canon)
                held = "; ".join(
                    f"{n} holds {'nothing' if e is None else e.describe()}"
                    for n, e in entries.items())
                writers = sorted({w for e in entries.values() if e is not None
                                  for w in self._writers(canon, e)})
                where = f" (range {range_name!r})" if range_name is not None else ""
                self.anomalies.append(Anomaly(
                    "divergence", tuple(writers),
                    f"after healing and anti-entropy ({snapshot.where}), the replicas of key "
                    f"{show(key)}{where} disagree: {held}. Replicas must converge "
                    f"({' and '.join(guarantees)} violated).",
                    {"guarantees": guarantees, "table": snapshot.table, "key": key,
                     "range": range_name, "index": snapshot.record.index,
                     "replicas": {n: None if e is None else e.raw for n, e in entries.items()}},
                ))

    def _writers(self, canon: str, entry: ReplicaEntry) -> list[int]:
        out = []
        for version in entry.versions or ():
            writer = self.catalog.writer_of(canon, version)
            if writer is not None:
                out.append(writer)
        return out

    # ---- lost writes

    def _table_of(self, op: Operation, finals: Mapping[str | None, Snapshot]) -> Snapshot | None:
        table = op.meta.get("table")
        if table in finals:
            return finals[table]
        if len(finals) == 1 and (table is None or None in finals):
            return next(iter(finals.values()))
        return None

    def lost_writes(self, snapshot: Snapshot, finals: Mapping[str | None, Snapshot]) -> None:
        """Every acknowledged write before the snapshot is held or superseded."""
        skipped = 0
        for op in self.history.operations:
            if op_kind(op) != "write" or not op.ok or not applied(op):
                continue
            if op.ret is None or op.ret > snapshot.record.index:
                continue
            if self._table_of(op, finals) is not snapshot:
                continue
            canon = canonical_key(op.key)
            holders = self._holders_of(snapshot, canon)
            if holders is None:
                skipped += 1
                continue
            entries = {n: snapshot.replicas.get(n, {}).get(canon) for n in holders}
            verdict = self._judge(op, canon, [e for e in entries.values() if e is not None])
            if verdict is None:
                skipped += 1
            elif verdict:
                self._lost(snapshot, op, canon, entries, verdict)
        if skipped:
            self.notes.append(f"{snapshot.where}: {skipped} acknowledged write(s) could not be "
                              "judged for loss (missing or incomparable versions)")

    def _judge(self, op: Operation, canon: str, present: list[ReplicaEntry]) -> str | None:
        """``""`` when the write is held or superseded, the anomaly type when it is
        lost, ``None`` when it cannot be told."""
        version = self.catalog.write_version(op)
        known, value = written_value(op)
        is_delete = op.f in DELETE_FUNCTIONS or (known and value is None)
        if not present:
            if is_delete:
                return ""
            deletes = [d for d in self.catalog.writes.get(canon, ())
                       if d.f in DELETE_FUNCTIONS and not d.failed]
            if not deletes:
                return "lost-write"
            if isinstance(version, WriteRef):
                return None
            unknown = False
            for delete in deletes:
                le = version_le(version, self.catalog.write_version(delete))
                if le:
                    return ""
                unknown = unknown or le is None
            return None if unknown else "lost-write"
        versionless = isinstance(version, WriteRef) or any(e.versions is None for e in present)
        if versionless:
            if known and any(canonical(v) == canonical(value) for e in present
                             for v in e.values):
                return ""
            if any(e.versions is None for e in present):
                return None
        held = [v for e in present for v in (e.versions or ())]
        if any(self.catalog.writer_of(canon, v) == op.id for v in held):
            return ""
        result = reflects(held, version)
        if result is None:
            return None
        if result:
            return ""
        if any(compare_versions(v, version) is Ordering.CONCURRENT for v in held):
            return "lost-sibling"
        return "lost-write"

    def _lost(self, snapshot: Snapshot, op: Operation, canon: str,
              entries: Mapping[str, ReplicaEntry | None], kind: str) -> None:
        version = self.catalog.write_version(op)
        known, value = written_value(op)
        key = snapshot.keys.get(canon, op.key)
        held = "; ".join(f"{n} holds {'nothing' if e is None else e.describe()}"
                         for n, e in entries.items()) or "no replica holds the key"
        what = ("deleted" if op.f in DELETE_FUNCTIONS
                else f"wrote {show(value)}" if known else f"ran {op.f}")
        stamp = "" if isinstance(version, WriteRef) else f", version {format_version(version)}"
        if kind == "lost-sibling":
            why = ("a concurrent version is held instead of keeping both as siblings: "
                   "no sibling may be lost")
        elif op.f in DELETE_FUNCTIONS:
            why = "the deleted item came back with only older versions"
        else:
            why = "no replica holds it or a version that supersedes it"
        self.anomalies.append(Anomaly(
            kind, (op.id,),
            f"{process_label(op)} {what} to key {show(key)} (op {op.id}{stamp}), "
            f"acknowledged before {snapshot.where}; there {held}: {why} "
            "(convergence violated: an acknowledged write was lost).",
            {"guarantees": ["convergence"], "table": snapshot.table, "key": key,
             "index": snapshot.record.index,
             "replicas": {n: None if e is None else e.raw for n, e in entries.items()}},
        ))

    # ---- Merkle roots

    def merkle(self, snapshot: Snapshot) -> None:
        """Roots equal exactly when contents are, for every range of the snapshot."""
        if not snapshot.roots:
            return
        self.consistency.add("merkle-root-iff-equal")
        if snapshot.ranges is not None:
            for name in snapshot.ranges:
                nodes = [n for n in snapshot.holders(name) if name in snapshot.roots.get(n, {})]
                contents: dict[str, dict[str, str]] = {}
                unknown = False
                for node in nodes:
                    mine = {}
                    for canon, entry in snapshot.replicas.get(node, {}).items():
                        inside = snapshot.ranges[name].contains(
                            canon, snapshot.keys.get(canon, decode_key(canon)))
                        if inside is None:
                            unknown = True
                        elif inside:
                            mine[canon] = entry.canon
                    contents[node] = mine
                if unknown:
                    continue
                self._compare_roots(snapshot, name,
                                    {n: (snapshot.roots[n][name],) for n in nodes}, contents)
            return
        by_names: dict[frozenset[str], list[str]] = {}
        for node in snapshot.replicas:
            if node in snapshot.roots:
                by_names.setdefault(frozenset(snapshot.roots[node]), []).append(node)
        for names, nodes in by_names.items():
            order = sorted(names)
            self._compare_roots(
                snapshot, None,
                {n: tuple(snapshot.roots[n][r] for r in order) for n in nodes},
                {n: {k: e.canon for k, e in snapshot.replicas[n].items()} for n in nodes},
                order)

    def _compare_roots(self, snapshot: Snapshot, range_name: str | None,
                       roots: Mapping[str, tuple[str, ...]],
                       contents: Mapping[str, Mapping[str, str]],
                       names: list[str] | None = None) -> None:
        nodes = sorted(roots)
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                same_root = roots[a] == roots[b]
                same_content = contents[a] == contents[b]
                if same_root == same_content:
                    continue
                self._mismatch(snapshot, range_name, a, b, roots, contents, same_root, names)
                return

    def _mismatch(self, snapshot: Snapshot, range_name: str | None, a: str, b: str,
                  roots: Mapping[str, tuple[str, ...]],
                  contents: Mapping[str, Mapping[str, str]], same_root: bool,
                  names: list[str] | None) -> None:
        where = f"range {range_name!r}" if range_name is not None else (
            f"ranges {', '.join(map(repr, names or []))}")
        if same_root:
            differing = sorted(k for k in set(contents[a]) | set(contents[b])
                               if contents[a].get(k) != contents[b].get(k))
            shown = ", ".join(show(snapshot.keys.get(k, k)) for k in differing[:3])
            more = f" and {len(differing) - 3} more" if len(differing) > 3 else ""
            text = (f"{a} and {b} report the same Merkle root(s) for {where} "
                    f"({', '.join(r[:16] for r in roots[a])}) but hold different entries for "
                    f"key(s) {shown}{more}")
            detail: dict[str, Any] = {"keys": [snapshot.keys.get(k, k) for k in differing]}
        else:
            text = (f"{a} and {b} hold the same entries for {where} but report different "
                    f"Merkle roots ({', '.join(r[:16] for r in roots[a])} vs "
                    f"{', '.join(r[:16] for r in roots[b])})")
            detail = {}
        self.anomalies.append(Anomaly(
            "merkle-mismatch", (),
            f"in {snapshot.where}, {text}: roots must be equal exactly when contents are "
            "(merkle-root-iff-equal violated).",
            {"guarantees": ["merkle-root-iff-equal"], "table": snapshot.table,
             "range": range_name, "index": snapshot.record.index, "nodes": [a, b],
             "roots": {a: list(roots[a]), b: list(roots[b])}, **detail},
        ))
