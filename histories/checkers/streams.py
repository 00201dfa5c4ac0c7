"""Change streams: every successful modification exactly once, in order per item,
with images that match the writes.

Guarantees decided: ``stream-exactly-once`` and ``stream-item-order`` (CONTRACTS.md
section 4).

Observation records read
    Records of type ``observe`` with ``f == "stream"``. The value is either

    - a list of stream records: the complete stream of every table, in stream order;
    - or an object ``{"table": "t", "records": [...], "complete": true,
      "view": "NEW_AND_OLD_IMAGES"}``: the stream of one table (of every table when
      ``"table"`` is absent). ``"complete": false`` says records may have been trimmed
      (retention), so missing records are not judged; ``"view"`` is the stream view
      type (``NEW_AND_OLD_IMAGES``, the default, ``NEW_IMAGE``, ``OLD_IMAGE`` or
      ``KEYS_ONLY``): images the view excludes are not judged.

    The last stream observation covering a table is its stream. A stream record is
    ``{"table": str, "event": "INSERT" | "MODIFY" | "REMOVE", "key": [...],
    "sequence": int, "old_image": item | null, "new_image": item | null}`` (the fields
    of ``implementation.store.StreamRecord``), optionally with ``"version"``: the item
    version it carries. Without ``"version"`` the record's ``sequence`` is its item
    version. A record without an image field does not judge that image.

Modifications read (``Operation.meta``)
    - Single-key ``put``/``write``/``update``/``delete``/``cas`` operations (the
      function names of :mod:`replicheck.histories.checkers.sessions`) with the key in
      ``Operation.key`` (the item's key; ``k`` and ``[k]`` are the same key) and
      ``meta["table"]`` (optional when the history has one table). ``meta["version"]``:
      the item version the modification created (an int, or a list compared
      lexicographically), increasing in the item's modification order; for a
      linearizable leader store, the order of its ok writes per key.
      ``meta["item"]``: the item after the write when it is not the invocation's value
      (``update``); a delete's item is ``null``.
    - A transaction (``txn``, ``transact-write``) or any operation carrying
      ``meta["writes"]``: ``[{"table", "key", "version", "item", "delete": bool}, ...]``,
      one object per write action (condition checks excluded), each producing one
      record.
    - ``meta["changed"] = false`` on an ``ok`` modification that changed nothing (no
      record expected); ``meta["applied"] = false`` on one that applied nothing.

    ``fail`` modifications (and cancelled transactions, recorded as ``fail``) must
    produce nothing; ``info`` ones may appear once or not at all. Items are assumed
    absent before the history's first modification of them (``items_start_absent``).

What is checked, per item (table and key)
    - ``stream-duplicate``: two records carry the same item version.
    - ``stream-missing``: an ``ok`` modification that completed before the stream
      observation (and changed something) has no record: matched by version, or
      without versions by its new image when no record of the item has that image.
    - ``stream-phantom``: a record no ``ok`` or ``info`` modification explains whose new
      image is the item a ``fail`` modification of the item would have written.
    - ``stream-unexplained``: any other record no ``ok`` or ``info`` modification of the
      item explains. A record is explained by the modification of its version, or by
      one of unknown version whose item (when known and the view shows new images)
      is the record's new image; one modification explains one record at most (a
      maximum matching), so a write applied twice, a rolled-back write's record or a
      record no write made is a violation. An indeterminate modification means
      "applied or not", never "anything goes".
    - ``stream-reorder``: in stream order, a record's version is below an earlier
      record's version of the same item (a repeated version is only a duplicate).
    - ``stream-image``: the record of a modification has a new image other than the
      item written, an old image other than the item of the previous version (when
      every modification of the item has a known version, so the previous one is
      known), or the wrong event (``REMOVE`` exactly for deletes; ``INSERT`` exactly
      when there was no previous item). In a complete stream showing both images,
      also in version order: each record's old image is the previous record's new
      image (no item before the first record when items start absent) and its event
      fits its images (``REMOVE`` when the new image is empty, ``INSERT`` when the old
      one is, else ``MODIFY``; never both empty). With every modification recorded
      exactly once, this holds whichever indeterminate modifications applied; one
      that applied without a record breaks it, a violation either way.

Verdict
    ``model`` ``"streams"``, ``consistency`` ``("stream-exactly-once",
    "stream-item-order")``. ``stream-reorder`` violates ``stream-item-order``; the
    others ``stream-exactly-once`` (``data["guarantees"]``). ``ops`` are the
    modifications involved; ``data`` holds the table, key, versions and the records.
    These guarantees are not consistency models: ``ruled_out`` and ``still_possible``
    are empty. ``counterexample`` is the smallest anomaly's operations and records.
    What could not be judged is counted in ``notes``.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from replicheck.histories.checkers.sessions import (
    DELETE_FUNCTIONS,
    MetadataError,
    TotalVersion,
    applied,
    canonical,
    canonical_key,
    op_kind,
    operations_json,
    parse_version,
    show,
    written_value,
)
from replicheck.histories.history import History, Operation, Record
from replicheck.histories.verdict import Anomaly, Stats, Verdict
from replicheck.histories.windows import history_windows
from replicheck.histories.wording import process_label

STREAM: Final = "stream"
"""The ``f`` of stream observation records."""

STREAM_GUARANTEES: Final[tuple[str, ...]] = ("stream-exactly-once", "stream-item-order")
"""The guarantees :func:`check_streams` decides."""

TRANSACTION_FUNCTIONS: Final = frozenset({"txn", "transact-write"})
"""Functions of write transactions (their writes are in ``meta["writes"]``)."""

VIEWS: Final = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY")
"""Stream view types, as DynamoDB names them."""

EVENTS: Final = ("INSERT", "MODIFY", "REMOVE")
"""Stream record events."""

_GUARANTEE: Final = {
    "stream-duplicate": "stream-exactly-once",
    "stream-missing": "stream-exactly-once",
    "stream-phantom": "stream-exactly-once",
    "stream-unexplained": "stream-exactly-once",
    "stream-image": "stream-exactly-once",
    "stream-reorder": "stream-item-order",
}


_Chain = tuple[list[tuple[Any, ...]], list["Modification"]]


class StreamError(ValueError):
    """A stream observation or record that does not have the documented shape."""


@dataclass(frozen=True)
class Modification:
    """One write action of one operation: the item it modified, the version it
    created (``None`` when unknown), the item it left (``item_known``; ``None`` for a
    delete), and whether it changed anything."""

    op: int
    status: str
    table: str | None
    key: str
    key_shown: Any
    version: tuple[Any, ...] | None
    item_known: bool
    item: Any
    delete: bool
    changed: bool


@dataclass(frozen=True)
class StreamEntry:
    """One stream record, at ``position`` in its observation."""

    position: int
    table: str | None
    key: str
    key_shown: Any
    event: str
    sequence: Any
    version: tuple[Any, ...]
    raw: Mapping[str, Any]

    def image(self, name: str) -> tuple[bool, Any]:
        """``(present, image)`` for ``"old_image"`` / ``"new_image"``."""
        return (name in self.raw, self.raw.get(name))


@dataclass(frozen=True)
class StreamSnapshot:
    """One parsed stream observation."""

    record: Record
    table: str | None
    entries: tuple[StreamEntry, ...]
    complete: bool
    view: str

    @property
    def has_new(self) -> bool:
        """The view includes new images."""
        return self.view in ("NEW_AND_OLD_IMAGES", "NEW_IMAGE")

    @property
    def has_old(self) -> bool:
        """The view includes old images."""
        return self.view in ("NEW_AND_OLD_IMAGES", "OLD_IMAGE")


def _order(raw: Any) -> tuple[Any, ...]:
    try:
        version = parse_version({"version": raw})
    except MetadataError as error:
        raise StreamError(str(error)) from None
    if not isinstance(version, TotalVersion):
        raise StreamError(f"an item version is an int or a list, got {raw!r}")
    return version.order


def parse_stream(record: Record) -> StreamSnapshot:
    """A ``stream`` observation record as a :class:`StreamSnapshot`; raises
    :class:`StreamError` naming what is wrong."""
    value = record.value
    table: str | None = None
    complete, view = True, "NEW_AND_OLD_IMAGES"
    if isinstance(value, Mapping):
        table = None if value.get("table") is None else str(value["table"])
        complete = value.get("complete", True) is not False
        view = str(value.get("view", view))
        if view not in VIEWS:
            raise StreamError(f"unknown stream view {view!r}; expected one of {', '.join(VIEWS)}")
        raw_records = value.get("records")
    else:
        raw_records = value
    if not isinstance(raw_records, list | tuple):
        raise StreamError("a stream observation is a list of records or "
                          "{\"records\": [...]}")
    entries = []
    for position, raw in enumerate(raw_records):
        if not isinstance(raw, Mapping):
            raise StreamError(f"stream record {position} is not an object: {raw!r}")
        for name in ("event", "key", "sequence"):
            if name not in raw:
                raise StreamError(f"stream record {position} has no {name!r}")
        if raw["event"] not in EVENTS:
            raise StreamError(f"stream record {position} has event {raw['event']!r}; "
                              f"expected one of {', '.join(EVENTS)}")
        entry_table = raw.get("table", table)
        entries.append(StreamEntry(
            position=position,
            table=None if entry_table is None else str(entry_table),
            key=canonical_key(raw["key"]),
            key_shown=raw["key"],
            event=str(raw["event"]),
            sequence=raw["sequence"],
            version=_order(raw.get("version", raw["sequence"])),
            raw=raw,
        ))
    return StreamSnapshot(record, table, tuple(entries), complete, view)


def modifications(op: Operation) -> list[Modification] | None:
    """The write actions of ``op`` (see the module docstring); ``[]`` for an operation
    that modifies nothing, ``None`` for a transaction whose writes are not recorded.
    Raises :class:`StreamError` for malformed ``writes`` or versions."""
    meta = op.meta
    changed = meta.get("changed", True) is not False and applied(op)
    if "writes" in meta:
        actions = meta["writes"]
        if not isinstance(actions, list | tuple):
            raise StreamError(f"op {op.id}: meta \"writes\" must be a list")
        out = []
        for action in actions:
            if not isinstance(action, Mapping) or "key" not in action:
                raise StreamError(f"op {op.id}: each write needs a \"key\", got {action!r}")
            table = action.get("table", meta.get("table"))
            delete = action.get("delete") is True
            version = action.get("version")
            out.append(Modification(
                op=op.id, status=op.status, table=None if table is None else str(table),
                key=canonical_key(action["key"]), key_shown=action["key"],
                version=None if version is None else _order(version),
                item_known=delete or "item" in action,
                item=None if delete else action.get("item"),
                delete=delete,
                changed=changed and action.get("changed", True) is not False,
            ))
        return out
    if op.f in TRANSACTION_FUNCTIONS:
        return None
    if op_kind(op) != "write":
        return []
    known, item = written_value(op)
    table = meta.get("table")
    version = meta.get("version")
    delete = op.f in DELETE_FUNCTIONS
    return [Modification(
        op=op.id, status=op.status, table=None if table is None else str(table),
        key=canonical_key(op.key), key_shown=op.key,
        version=None if version is None else _order(version),
        item_known=known, item=None if delete else item, delete=delete, changed=changed,
    )]


# ---------------------------------------------------------------------------------------


def check_streams(history: History, *, items_start_absent: bool = True) -> Verdict:
    """Check the ``stream`` observations of ``history`` against its modifications for
    stream-exactly-once and stream-item-order, as the module docstring defines them.

    ``items_start_absent``: items did not exist before their first modification in
    the history (so the first one's record is an INSERT without old image); pass
    False for a history that starts from a populated table. Returns a Verdict with
    ``model`` ``"streams"``."""
    started = time.perf_counter()
    notes: list[str] = []
    finals: dict[str | None, StreamSnapshot] = {}
    for record in history.observations:
        if record.f != STREAM:
            continue
        try:
            snapshot = parse_stream(record)
        except StreamError as error:
            notes.append(f"stream observation at record {record.index} skipped: {error}")
            continue
        if snapshot.table is None:
            finals = {None: snapshot}
        else:
            finals[snapshot.table] = snapshot
    mods: list[Modification] = []
    untracked = 0
    for op in history.operations:
        try:
            found = modifications(op)
        except StreamError as error:
            notes.append(f"op {op.id} skipped: {error}")
            continue
        if found is None:
            untracked += op.ok
            continue
        mods.extend(found)
    if untracked:
        notes.append(f"{untracked} ok transaction(s) without meta \"writes\" were not judged")

    windows = history_windows(history)
    run = _Run(history, items_start_absent,
               None if windows is None else windows.stream_retention)
    if not finals:
        notes.append("no stream observation: nothing to judge")
    else:
        tables = {e.table for s in finals.values() for e in s.entries if e.table is not None}
        tables |= {m.table for m in mods if m.table is not None}
        default = next(iter(tables)) if len(tables) == 1 else None
        for snapshot in finals.values():
            run.snapshot(snapshot, finals, mods, default)
        notes.extend(run.notes)
    anomalies = run.anomalies
    counterexample = None
    if anomalies:
        best = min(anomalies, key=lambda a: len(a.ops) + len(a.data.get("records", ())))
        counterexample = {"anomaly": best.type,
                          "operations": operations_json(history, best.ops),
                          "records": list(best.data.get("records", ()))}
    return Verdict(
        valid=not anomalies,
        model="streams",
        consistency=STREAM_GUARANTEES if finals else (),
        anomalies=tuple(anomalies),
        counterexample=counterexample,
        stats=Stats(operations=len(history.operations), seconds=time.perf_counter() - started),
        notes=tuple(notes),
    )


class _Run:
    def __init__(self, history: History, items_start_absent: bool,
                 retention: float | None = None) -> None:
        self.history = history
        self.items_start_absent = items_start_absent
        self.retention = retention
        self.anomalies: list[Anomaly] = []
        self.notes: list[str] = []

    def snapshot(self, snapshot: StreamSnapshot, finals: Mapping[str | None, StreamSnapshot],
                 mods: list[Modification], default: str | None) -> None:
        """Judge every item the snapshot covers."""
        items: dict[tuple[str | None, str], tuple[list[StreamEntry], list[Modification]]] = {}
        for entry in snapshot.entries:
            table = entry.table if entry.table is not None else default
            items.setdefault((table, entry.key), ([], []))[0].append(entry)
        for mod in mods:
            table = mod.table if mod.table is not None else default
            covering = finals.get(table) if table in finals else finals.get(None)
            if covering is not snapshot:
                continue
            items.setdefault((table, mod.key), ([], []))[1].append(mod)
        for (table, _), (entries, item_mods) in items.items():
            self._item(snapshot, table, entries, item_mods)

    # ---- one item

    def _item(self, snapshot: StreamSnapshot, table: str | None, entries: list[StreamEntry],
              mods: list[Modification]) -> None:
        live = [m for m in mods if m.status != "fail"]
        by_version: dict[tuple[Any, ...], list[Modification]] = {}
        for m in live:
            if m.version is not None and (m.changed or m.status == "info"):
                by_version.setdefault(m.version, []).append(m)
        records: dict[tuple[Any, ...], list[StreamEntry]] = {}
        for entry in entries:
            records.setdefault(entry.version, []).append(entry)
        where = self._where(snapshot, table)

        # duplicates
        for version, found in records.items():
            if len(found) > 1:
                writers = by_version.get(version, [])
                self._add("stream-duplicate", writers, found,
                          f"{self._mod_text(writers, found[0])} appears {len(found)} times in "
                          f"{where} (sequences {', '.join(show(e.sequence) for e in found)}); "
                          "each modification must appear exactly once")
        # order
        highest: StreamEntry | None = None
        seen: set[tuple[Any, ...]] = set()
        for entry in entries:
            if entry.version in seen:
                continue  # a duplicate, reported as such
            seen.add(entry.version)
            if highest is not None:
                try:
                    behind = entry.version < highest.version
                except TypeError:
                    behind = False
                if behind:
                    first, later = (by_version.get(highest.version, []),
                                    by_version.get(entry.version, []))
                    self._add("stream-reorder", [*first, *later], [highest, entry],
                              f"in {where}, the records of key {show(entry.key_shown)} are out "
                              f"of modification order: version {_show_version(entry.version)}"
                              f" (sequence {show(entry.sequence)}) comes after version "
                              f"{_show_version(highest.version)} (sequence "
                              f"{show(highest.sequence)})")
                    continue
            if highest is None or _greater(entry.version, highest.version):
                highest = entry
        # missing
        if snapshot.complete:
            self._missing(snapshot, where, mods, records, entries)
        # phantoms, unexplained records and images
        chain = self._chain(mods)
        pending: dict[tuple[Any, ...], StreamEntry] = {}
        imaged: set[int] = set()
        for entry in entries:
            writers = by_version.get(entry.version, [])
            if len(writers) == 1:
                if self._images(snapshot, where, entry, writers[0], chain):
                    imaged.add(entry.position)
                continue
            if not writers:
                pending.setdefault(entry.version, entry)  # a duplicate is reported as such
        for entry in self._unexplained(snapshot, list(pending.values()), live):
            failed = [m for m in mods if m.status == "fail" and self._same_image(entry, m)]
            record = (f"a {entry.event} of key {show(entry.key_shown)} (sequence "
                      f"{show(entry.sequence)}, version {_show_version(entry.version)}, new "
                      f"image {show(entry.raw.get('new_image'))})")
            if failed and snapshot.has_new and "new_image" in entry.raw:
                self._add("stream-phantom", failed[:1], [entry],
                          f"{where} holds {record} that no successful or indeterminate "
                          f"modification explains; it is what failed op {failed[0].op} "
                          "would have written, and nothing from a failed write may appear")
            else:
                self._add("stream-unexplained", [], [entry],
                          f"{where} holds {record} that no modification of the item "
                          "explains: every record stands for exactly one successful or "
                          "indeterminate write (a write applied twice, a rolled-back "
                          "write, a record no write made)")
        if snapshot.complete and snapshot.has_new and snapshot.has_old:
            start_absent = self.items_start_absent and not any(
                self._aged(m, snapshot) for m in live)
            self._record_chain(where, entries, imaged, start_absent)

    def _aged(self, mod: Modification, snapshot: StreamSnapshot) -> bool:
        """Whether ``mod``'s record may have aged out of the stream by the time it was
        observed: the store declares a retention window, the history's times are the
        store's (:mod:`replicheck.histories.windows`), and the modification was invoked
        at least the window before the observation (its record is no older than its
        invocation, and is kept while younger than the window)."""
        if self.retention is None:
            return False
        invoked = self.history.operation(mod.op).call_time
        seen = snapshot.record.time
        return invoked is not None and seen is not None and \
            seen - invoked >= round(self.retention * 1_000_000_000)

    def _unexplained(self, snapshot: StreamSnapshot, pending: list[StreamEntry],
                     live: list[Modification]) -> list[StreamEntry]:
        """The records of ``pending`` (no modification of their version) that the
        ok/info modifications of unknown version cannot explain, each modification
        explaining one record at most (a maximum matching: the records left over). An
        ok modification that changed nothing (``meta["changed"] = false``) explains no
        record."""
        unknown = [m for m in live if m.version is None and (m.changed or m.status == "info")]
        fits = [[i for i, m in enumerate(unknown) if self._fits(snapshot, entry, m)]
                for entry in pending]
        owner: dict[int, int] = {}

        def augment(record: int, seen: set[int]) -> bool:
            for mod in fits[record]:
                if mod in seen:
                    continue
                seen.add(mod)
                if mod not in owner or augment(owner[mod], seen):
                    owner[mod] = record
                    return True
            return False

        return [entry for i, entry in enumerate(pending) if not augment(i, set())]

    def _fits(self, snapshot: StreamSnapshot, entry: StreamEntry, mod: Modification) -> bool:
        """Whether ``mod`` (of unknown version) may have made the record ``entry``."""
        if not mod.item_known or not snapshot.has_new or "new_image" not in entry.raw:
            return True
        return self._same_image(entry, mod)

    def _record_chain(self, where: str, entries: list[StreamEntry], imaged: set[int],
                      start_absent: bool) -> None:
        """In version order, each record's old image is the previous record's new image
        (none before the item's first record when items start absent and none of its
        records may have aged out: ``start_absent``; records age out oldest first, so
        only the first one left may follow a record gone), and its event
        fits its images: with every modification recorded exactly once, this holds
        whichever indeterminate writes applied (one that applied without a record
        breaks it, and that is a violation either way)."""
        unique: dict[tuple[Any, ...], StreamEntry] = {}
        for entry in entries:
            unique.setdefault(entry.version, entry)
        try:
            ordered = sorted(unique.values(), key=lambda e: e.version)
        except TypeError:
            return
        previous: StreamEntry | None = None
        for entry in ordered:
            problems = []
            if "old_image" in entry.raw and "new_image" in entry.raw:
                old, new = entry.raw["old_image"], entry.raw["new_image"]
                judged = (previous is None and start_absent) or (
                    previous is not None and "new_image" in previous.raw)
                expected = None if previous is None else previous.raw["new_image"]
                if judged and canonical(old) != canonical(expected):
                    before = ("the item did not exist before its first record"
                              if previous is None else
                              f"the item's previous record (sequence "
                              f"{show(previous.sequence)}, version "
                              f"{_show_version(previous.version)}) left {show(expected)}")
                    problems.append(f"has old image {show(old)} but {before}")
                event = "REMOVE" if new is None else "INSERT" if old is None else "MODIFY"
                if old is None and new is None:
                    problems.append("shows no item before and none after: a record of no "
                                    "change")
                elif entry.event != event:
                    problems.append(f"is a {entry.event} but its images make it a {event}")
            if problems and entry.position not in imaged:
                self._add("stream-image", [], [entry],
                          f"in {where}, the record of key {show(entry.key_shown)} at version "
                          f"{_show_version(entry.version)} {'; it '.join(problems)}; a record "
                          "must show the modification it stands for")
            previous = entry

    @staticmethod
    def _same_image(entry: StreamEntry, mod: Modification) -> bool:
        if not mod.item_known:
            return False
        expected = None if mod.delete else mod.item
        return canonical(entry.raw.get("new_image")) == canonical(expected)

    def _missing(self, snapshot: StreamSnapshot, where: str, mods: list[Modification],
                 records: Mapping[tuple[Any, ...], list[StreamEntry]],
                 entries: list[StreamEntry]) -> None:
        for m in mods:
            op = self.history.operation(m.op)
            if m.status != "ok" or not m.changed:
                continue
            if op.ret is None or op.ret > snapshot.record.index or self._aged(m, snapshot):
                continue
            if m.version is not None:
                if m.version in records:
                    continue
            else:
                judged = (m.item_known and snapshot.has_new
                          and all("new_image" in e.raw for e in entries))
                if not judged or any(self._same_image(e, m) for e in entries):
                    continue
            self._add("stream-missing", [m], [],
                      f"{self._mod_text([m], None)} was acknowledged before the stream "
                      f"observation at record {snapshot.record.index}, but {where} has no "
                      "record of it; every successful modification must appear exactly once")

    @staticmethod
    def _chain(mods: list[Modification]) -> _Chain | None:
        """The item's applied modifications in version order; ``None`` when one of
        unknown version may lie between them."""
        if any(m.version is None and m.status != "fail" and (m.changed or m.status == "info")
               for m in mods):
            return None
        chain = [m for m in mods if m.version is not None and m.status != "fail" and m.changed]
        try:
            chain.sort(key=lambda m: m.version or ())
        except TypeError:
            return None
        return [m.version or () for m in chain], chain

    def _previous(self, version: tuple[Any, ...], chain: _Chain | None
                  ) -> tuple[bool, Modification | None]:
        """``(known, previous modification)`` before ``version``."""
        if chain is None:
            return False, None
        versions, ordered = chain
        try:
            i = bisect_left(versions, version)
        except TypeError:
            return False, None
        if i == 0:
            return self.items_start_absent, None
        return True, ordered[i - 1]

    def _images(self, snapshot: StreamSnapshot, where: str, entry: StreamEntry,
                mod: Modification, chain: _Chain | None) -> bool:
        """Report the record of ``mod`` if its images or event do not fit; whether
        it was reported."""
        problems = []
        if snapshot.has_new and "new_image" in entry.raw and mod.item_known:
            expected = None if mod.delete else mod.item
            if canonical(entry.raw["new_image"]) != canonical(expected):
                problems.append(f"has new image {show(entry.raw['new_image'])} but the write "
                                f"left {show(expected)}")
        known, previous = self._previous(entry.version, chain)
        old_known = known and (previous is None or previous.item_known)
        old = None if previous is None or previous.delete else previous.item
        if (old_known and snapshot.has_old and "old_image" in entry.raw
                and canonical(entry.raw["old_image"]) != canonical(old)):
            before = (f"the previous version (op {previous.op}) left {show(old)}"
                      if previous is not None else "the item did not exist before")
            problems.append(f"has old image {show(entry.raw['old_image'])} but {before}")
        if mod.delete:
            expected_event = "REMOVE"
        elif old_known:
            expected_event = "INSERT" if old is None else "MODIFY"
        else:
            expected_event = "INSERT or MODIFY"
        if entry.event not in expected_event.split(" or "):
            problems.append(f"is a {entry.event} but should be a {expected_event}")
        if problems:
            related = [mod] if previous is None else [previous, mod]
            self._add("stream-image", related, [entry],
                      f"in {where}, the record of {self._mod_text([mod], entry)} "
                      f"{'; it '.join(problems)}; a record must show the modification it "
                      "stands for")
        return bool(problems)

    # ---- reporting

    def _where(self, snapshot: StreamSnapshot, table: str | None) -> str:
        name = f" of table {table!r}" if table is not None else ""
        return f"the stream{name} (observation at record {snapshot.record.index})"

    def _mod_text(self, mods: list[Modification], entry: StreamEntry | None) -> str:
        if not mods:
            assert entry is not None
            return (f"the {entry.event} of key {show(entry.key_shown)} at version "
                    f"{_show_version(entry.version)}")
        m = mods[0]
        op = self.history.operation(m.op)
        version = "" if m.version is None else f", version {_show_version(m.version)}"
        return (f"{process_label(op)}'s {op.f} of key {show(m.key_shown)} "
                f"(op {m.op}{version})")

    def _add(self, kind: str, mods: list[Modification], entries: list[StreamEntry],
             text: str) -> None:
        guarantee = _GUARANTEE[kind]
        ops = tuple(dict.fromkeys(m.op for m in mods))
        key = entries[0].key_shown if entries else (mods[0].key_shown if mods else None)
        table = entries[0].table if entries else (mods[0].table if mods else None)
        self.anomalies.append(Anomaly(kind, ops, f"{text} ({guarantee} violated).", {
            "guarantees": [guarantee], "table": table, "key": key,
            "versions": [list(e.version) for e in entries] or
                        [list(m.version) for m in mods if m.version is not None],
            "records": [dict(e.raw) for e in entries],
        }))


def _greater(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    try:
        return bool(a > b)
    except TypeError:
        return False


def _show_version(version: tuple[Any, ...]) -> str:
    return show(version[0]) if len(version) == 1 else show(list(version))
