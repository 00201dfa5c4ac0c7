"""Cross-region replication for global tables: each region ships its committed local
writes to every other region, which applies them with last-writer-wins.

A write's stamp is ``(timestamp, region)``: the writing region leader's clock in
microseconds (skewed clocks included), raised above the item's current stamp in
that region, so a local write always supersedes what its region holds. A region
applies a shipped write only when its stamp is greater than the item's current
stamp (``replicheck.models.lww`` order), through its own replicated log (so it is
durable there and appears in its stream). Since every region eventually applies
every other region's writes and keeps the greatest stamp per item (deletes keep a
stamped tombstone), all regions converge once the network heals and shipping
catches up. Concurrent writes in two regions lose one of them: last writer wins.

Shipping is at-least-once: the source leader resends everything past the
destination's acknowledged cursor every ``geo_retry`` seconds; the destination
remembers (durably, in its log) how far it applied each source partition and skips
what it already has. While a transaction locks an item in the destination, writes
shipped to that item wait (the batch is retried later), so a prepared transaction's
stamps stay above everything applied before it commits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from replicheck.implementation.reference.leader.config import GeoPeer, KeyRef
from replicheck.implementation.reference.leader.messages import GeoAck, GeoShip
from replicheck.implementation.reference.leader.state import Effect, Stamp, make_effect
from replicheck.models.items.requests import Item

if TYPE_CHECKING:
    from replicheck.implementation.reference.leader.partition import PartitionReplica

LOCAL_KINDS = ("write", "commit")
"""Entry kinds whose effects originate in this region (and are shipped)."""


class GeoShipper:
    """The cross-region replication of one partition replica (active while it leads)."""

    def __init__(self, replica: PartitionReplica) -> None:
        self.replica = replica
        self.acked: dict[str, int] = {}
        self.sent_at: dict[str, float] = {}

    def reset(self) -> None:
        """Forget what was shipped (a new leadership asks again from the start; the
        destinations skip what they have)."""
        self.acked.clear()
        self.sent_at.clear()

    def pump(self, *, force: bool = False) -> None:
        """Ship committed local writes past each region's acknowledged cursor, unless
        a shipment to it is still recent."""
        r = self.replica
        if not r.is_leader:
            return
        for peer in r.config.geo:
            self._pump_to(peer, force)

    def _pump_to(self, peer: GeoPeer, force: bool) -> None:
        r = self.replica
        timing = r.config.timing
        while True:
            acked = self.acked.get(peer.region, 0)
            if acked >= r.commit:
                return
            sent = self.sent_at.get(peer.region)
            if sent is not None and r.now - sent < timing.geo_retry and not force:
                return
            upto = min(r.commit, acked + timing.batch)
            effects = tuple((entry.index, effect) for entry in r.log[acked:upto]
                            if entry.kind in LOCAL_KINDS for effect in entry.effects)
            if not effects:  # nothing local to ship in this range
                self.acked[peer.region] = upto
                continue
            ship = GeoShip(r.pid, r.config.region, r.pid, acked + 1, upto, effects)
            for node in peer.placement[r.pid]:
                r.send(node, ship)
            self.sent_at[peer.region] = r.now
            return

    def on_ack(self, m: GeoAck) -> None:
        """A region durably holds our writes up to ``m.cursor``."""
        if not self.replica.is_leader:
            return
        if m.cursor > self.acked.get(m.region, 0):
            self.acked[m.region] = m.cursor
        self.sent_at.pop(m.region, None)
        self.pump()

    def on_ship(self, m: GeoShip, src: str) -> None:
        """Apply another region's writes with last-writer-wins, durably, then ack."""
        r = self.replica
        if not r.is_leader:
            return
        spec = r.spec
        assert spec is not None
        source = (m.region, m.source)
        done = r.applied.geo_cursor.get(source, 0)
        cursor = spec.geo_cursor.get(source, 0)
        if m.to_index <= cursor:
            if m.to_index <= done:
                r.send(src, GeoAck(m.source, r.config.region, done))
            return
        fresh = [effect for index, effect in m.effects if index > cursor]
        if any(effect.ref in spec.locks for effect in fresh):
            return  # a transaction holds one of the items: the source ships again later
        overlay: dict[KeyRef, tuple[Item | None, Stamp | None]] = {}
        accepted: list[Effect] = []
        for effect in fresh:
            ref = effect.ref
            current, stamp = overlay.get(ref, (spec.item(ref), spec.stamps.get(ref)))
            if effect.stamp is not None and (stamp is None or effect.stamp > stamp):
                accepted.append(make_effect(effect.table, effect.key, current, effect.new,
                                            effect.stamp))
                overlay[ref] = (effect.new, effect.stamp)
        entry = r.append("geo", effects=tuple(accepted), source=(m.region, m.source,
                                                                  m.to_index))
        ack = GeoAck(m.source, r.config.region, m.to_index)
        r.on_commit(entry.index, lambda: r.send(src, ack))
