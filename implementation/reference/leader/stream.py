"""The change stream of a table, read from the partitions' committed logs.

Every committed entry that changed an item yields one record (``INSERT`` when the
item was absent, ``REMOVE`` when it is gone, ``MODIFY`` otherwise) with the images
the table's view type includes (``KEYS_ONLY``, ``NEW_IMAGE``, ``OLD_IMAGE``,
``NEW_AND_OLD_IMAGES``). A write that changed nothing, a failed write and a
cancelled transaction yield none. Records come from the committed prefix of the
log, which every replica agrees on, so a failover neither loses nor repeats one. A
record's ``sequence`` is its entry's log index: increasing per partition, hence per
item. Records older than 24 hours of the simulation's global clock are gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from replicheck.implementation.reference.leader.config import STREAM_RETENTION_SECONDS
from replicheck.implementation.reference.leader.state import Entry
from replicheck.implementation.store import StreamRecord

STREAM_KINDS = ("write", "commit", "geo")
"""Entry kinds whose effects are modifications."""


def stream_records(logs: Mapping[int, Iterable[Entry]], table: str, view: str,
                   now: float) -> tuple[StreamRecord, ...]:
    """The retained records of ``table`` from each partition's committed entries, in
    stream order (by the time their entries were appended, then partition and index)."""
    keep_old = view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
    keep_new = view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
    found: list[tuple[tuple[float, int, int], StreamRecord]] = []
    for partition, entries in logs.items():
        for entry in entries:
            if entry.kind not in STREAM_KINDS or now - entry.time >= STREAM_RETENTION_SECONDS:
                continue
            for effect in entry.effects:
                if effect.table != table or not effect.changed:
                    continue
                if effect.old is None:
                    event = "INSERT"
                elif effect.new is None:
                    event = "REMOVE"
                else:
                    event = "MODIFY"
                record = StreamRecord(
                    table, event, effect.key, entry.index,
                    old_image=dict(effect.old) if keep_old and effect.old is not None else None,
                    new_image=dict(effect.new) if keep_new and effect.new is not None else None,
                )
                found.append(((entry.time, partition, entry.index), record))
    found.sort(key=lambda pair: pair[0])
    return tuple(record for _, record in found)
