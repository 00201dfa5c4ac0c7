"""The request router: the endpoint clients send their requests to.

It maps each request to a partition (the item's, the transaction's home partition:
its token's or its first action's, the first get's) and forwards it to the replica it
believes leads that partition; eventually consistent reads go to the partition's
replicas in turn (any replica answers them). Replies go from the replica straight to
the client. A replica that does not lead hands the request back (nothing applied)
with a hint; the router tries the hint, else the next replica after a short pause,
at most ``router_attempts`` times (then the client times out: Indeterminate). New
leaders announce themselves to the router with their term.
"""

from __future__ import annotations

from replicheck.implementation.reference.leader.config import ClusterConfig
from replicheck.implementation.reference.leader.messages import LeaderNotice, Op, Redirect
from replicheck.implementation.reference.sim import Endpoint, Message, Timer
from replicheck.models.items.requests import Get


class RouterEndpoint(Endpoint):
    """A cluster's request router (it never crashes and is in no network partition
    group, like a fleet of stateless front ends)."""

    def __init__(self, id: str, config: ClusterConfig) -> None:
        super().__init__(id)
        self.config = config
        self.leaders: dict[int, tuple[int, str]] = {}
        self.turn = 0

    def on_message(self, message: Message) -> None:
        body = message.body
        if message.kind == "request":
            rid, request = body
            self._forward(Op(message.src, rid, request, self.config.partition_for(request)))
        elif isinstance(body, Redirect):
            op = body.op
            retry = Op(op.client, op.rid, op.request, op.partition, op.attempt + 1)
            if retry.attempt >= self.config.timing.router_attempts:
                return
            if body.hint is not None and body.hint != message.src:
                self._send(retry, body.hint)
            else:
                self.set_timer(self.config.timing.router_retry, "retry", retry)
        elif isinstance(body, LeaderNotice):
            known = self.leaders.get(body.partition)
            if known is None or body.term >= known[0]:
                self.leaders[body.partition] = (body.term, body.node)

    def on_timer(self, timer: Timer) -> None:
        op: Op = timer.payload
        replicas = self.config.placement[op.partition]
        known = self.leaders.get(op.partition)
        if known is not None and op.attempt % 2 == 1:
            self._send(op, known[1])
        else:
            self._send(op, replicas[op.attempt % len(replicas)])

    def _forward(self, op: Op) -> None:
        replicas = self.config.placement[op.partition]
        request = op.request
        if isinstance(request, Get) and not request.consistent:
            self.turn += 1
            self._send(op, replicas[self.turn % len(replicas)])
            return
        known = self.leaders.get(op.partition)
        self._send(op, known[1] if known is not None else replicas[0])

    def _send(self, op: Op, node: str) -> None:
        self.send(node, "op", op)
