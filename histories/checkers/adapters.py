"""How history operations become steps of a sequential specification.

An :class:`Adapter` knows, for one model name (``register``, ``cas-register``, ``kv``,
``item``), which functions a history may use, how an operation becomes the
specification's ``Input``, what result it observed, and which operations can never
change the state (*pure* observers, such as reads). :func:`prepare` applies the
history semantics of CONTRACTS.md section 5:

- ``ok``: took effect between its invocation and its completion; it must be placed.
- ``fail``: definitely did not take effect; it is left out — except, in replicheck's
  convention (JSON lines; never in EDN or Jepsen logs), a ``fail`` whose error is
  ``condition-failed`` (:attr:`Operation.condition_failed`), an observation that the
  condition was false (for a ``cas``: the result ``False``), which must be placed like
  an ``ok`` operation.
- ``info`` (or never completed): indeterminate; it may take effect at any point after
  its invocation, or never. Its result is ``UNKNOWN``. An indeterminate pure operation
  (a read nobody saw) constrains nothing and is dropped.

New models plug in with :func:`register_adapter`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from replicheck.histories.history import CONDITION_FAILED as CONDITION_FAILED
from replicheck.histories.history import HistoryError, Operation
from replicheck.histories.history import is_condition_failed as is_condition_failed
from replicheck.models.equality import same_value
from replicheck.models.specs.base import NO_KEY, UNKNOWN, Input, SequentialSpec, Value


@dataclass(frozen=True)
class Reach:
    """Optional knowledge about when an operation can still be satisfied, which lets the
    search abandon a configuration as soon as some pending observation has become
    impossible (instead of finding out when that observation's return comes).

    - ``reach(state, p, result)``: False only if the operation ``p`` observing
      ``result`` is not allowed in ``state`` *and* stays impossible whatever
      non-rescuing operations follow (see ``rescues``). True is always a safe answer.
    - ``rescue_key(x)``: for a non-pure operation, the key of the operations it might
      rescue; ``None``: it rescues none.
    - ``wanted_key(p, result)``: the key of an operation that must be placed: only
      operations with that rescue key may rescue it; ``None``: any operation with a
      rescue key may.
    - ``rescues(x, x_result, p, p_result)``: asked for the operations the keys allow
      (``None``: all of those rescue); False only if, from every state where ``reach``
      is False for ``p``, every state ``x`` leads to has ``reach`` False for ``p`` too.

    - ``covers(p, result)``: whether the knowledge applies to the operation ``p`` that
      must be placed (pure or not); ``reach`` is asked only about those.

    Promise: ``reach(state, p, result)`` is True whenever ``p`` is allowed in ``state``,
    and an operation that is not a rescuer of ``p`` (different key, or ``rescues``
    False) never turns an unreachable state into a reachable one.
    """

    covers: Callable[[Input, Any], bool]
    reach: Callable[[Any, Input, Any], bool]
    rescue_key: Callable[[Input], Hashable | None]
    wanted_key: Callable[[Input, Any], Hashable | None]
    rescues: Callable[[Input, Any, Input, Any], bool] | None = None


@dataclass(frozen=True)
class Adapter:
    """How operations of one model become specification steps.

    - ``functions``: the function names the model knows.
    - ``to_input(op)``: the ``Input`` of an operation (function, key, argument).
    - ``ok_result(op)``: the result an ``ok`` operation observed.
    - ``failed_result(op)``: the result a ``fail`` with ``error == "condition-failed"``
      observed; ``None`` when the model has no conditions (such a record is then an
      error in the history).
    - ``pure(input, result)``: True only when the step of ``input`` with ``result``
      leaves every state unchanged (or is impossible) — in *every* state. The checker
      relies on it for soundness; when unsure, return False.
    - ``state_phrase(spec, state, input)``: a phrase for explanations, e.g. "the
      register holds 0".
    - ``blind(input, result)``: a key when the operation overwrites: it is allowed in
      every state, and any operation ``x`` with the same key followed directly by it
      leads to the states it leads to alone (``x`` then ``y`` is ``y``); ``None``
      otherwise (always a safe answer).
    - ``reach``: optional :class:`Reach` knowledge for pruning (None: none).
    """

    model: str
    functions: frozenset[str]
    to_input: Callable[[Operation], Input]
    ok_result: Callable[[Operation], Any]
    failed_result: Callable[[Operation], Any] | None = None
    pure: Callable[[Input, Any], bool] = lambda _input, _result: False
    blind: Callable[[Input, Any], Hashable | None] = lambda _input, _result: None
    state_phrase: Callable[[SequentialSpec[Any], Any, Input], str] | None = None
    reach: Reach | None = None

    def phrase(self, spec: SequentialSpec[Any], state: Any, op: Input) -> str:
        """How the state looks to people, for explanations."""
        if self.state_phrase is not None:
            return self.state_phrase(spec, state, op)
        return f"the state there is {spec.describe_state(state)}"


class Step(NamedTuple):
    """One operation as the search sees it: the history's operation, its ``Input``,
    its observed ``result`` (``UNKNOWN`` when indeterminate), whether it may be left
    out (``optional``: indeterminate, no return bound), whether it never changes the
    state (``pure``) and its overwrite key (``blind``, see :class:`Adapter`)."""

    op: Operation
    input: Input
    result: Any
    optional: bool
    pure: bool
    blind: Hashable | None = None


@dataclass(frozen=True)
class Prepared:
    """The steps of a history, and how many operations were set aside: ``excluded``
    (``fail``: did not take effect) and ``dropped`` (indeterminate and pure:
    constrain nothing)."""

    steps: tuple[Step, ...]
    excluded: int
    dropped: int


def unknown_function(adapter: Adapter, op: Operation) -> HistoryError:
    """The error for an operation whose function the model does not know: names the
    function, the model and the functions it knows."""
    where = f" (operation {op.id}" + (f", line {op.line})" if op.line is not None else ")")
    return HistoryError(
        f"unknown function {op.f!r} for model {adapter.model!r}{where}; "
        f"model {adapter.model!r} knows: {', '.join(sorted(adapter.functions))}"
    )


def prepare(operations: tuple[Operation, ...] | list[Operation], adapter: Adapter) -> Prepared:
    """The steps of ``operations`` under ``adapter`` (see the module docstring).

    Raises ``HistoryError`` (a ``ValueError``) for a function the model does not know, or a
    ``condition-failed`` record in a model without conditions."""
    steps: list[Step] = []
    excluded = dropped = 0
    for op in operations:
        if op.f not in adapter.functions:
            raise unknown_function(adapter, op)
        if op.status == "fail":
            if not op.condition_failed:
                excluded += 1
                continue
            if adapter.failed_result is None:
                raise HistoryError(
                    f"operation {op.id} ({op.f}) failed with 'condition-failed', but model "
                    f"{adapter.model!r} has no conditions; expected ok, info or another fail"
                )
            inp = adapter.to_input(op)
            result = adapter.failed_result(op)
            steps.append(Step(op, inp, result, False, adapter.pure(inp, result),
                              adapter.blind(inp, result)))
            continue
        inp = adapter.to_input(op)
        if op.status == "ok":
            result = adapter.ok_result(op)
            steps.append(Step(op, inp, result, False, adapter.pure(inp, result),
                              adapter.blind(inp, result)))
            continue
        if adapter.pure(inp, UNKNOWN):
            dropped += 1
            continue
        steps.append(Step(op, inp, UNKNOWN, True, False, adapter.blind(inp, UNKNOWN)))
    return Prepared(tuple(steps), excluded, dropped)


# ---------------------------------------------------------------------------------------
# The shipped adapters


def _register_phrase(_spec: SequentialSpec[Any], state: Any, op: Input) -> str:
    held = state.value(op.key) if hasattr(state, "value") else state
    if op.key is None or op.key == NO_KEY:
        return f"the register holds {held!r}"
    return f"key {op.key!r} holds {held!r}"


def _check_echo(op: Operation) -> None:
    """An ``ok`` write, put or append completes with the value it was invoked with (or
    none): another value leaves it unknown what was written, a HistoryError naming the
    operation and its line."""
    if op.status == "ok" and op.output is not None and not same_value(op.output, op.input):
        where = f", line {op.ret_line}" if op.ret_line is not None else ""
        raise HistoryError(
            f"operation {op.id} ({op.f}{where}): the completion's value is {op.output!r} "
            f"but the invocation's is {op.input!r}; expected the value it was invoked "
            "with (or none)")


def _register_input(op: Operation) -> Input:
    # Keys and values are held as Value: compared by decoded type and value, also
    # where the search groups identical operations and memoizes states.
    key = Value(op.key)
    if op.f == "write":
        _check_echo(op)
    if op.f == "read":
        return Input("read", key)
    if op.f == "cas":
        pair = op.input
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            where = f", line {op.line}" if op.line is not None else ""
            raise HistoryError(f"operation {op.id} (cas{where}): field value is {pair!r}; "
                               "expected a pair [old new]")
        return Input("cas", key, (Value(pair[0]), Value(pair[1])))
    return Input(op.f, key, Value(op.input))


def _register_result(op: Operation) -> Any:
    return Value(op.output) if op.f == "read" else None


def _register_pure(inp: Input, _result: Any) -> bool:
    return inp.f == "read"


def _register_reach(state: Any, p: Input, result: Any) -> bool:
    # A read needs the key to hold what it read; a cas needs it to hold ``old``
    # (result True) or anything else (result False).
    if p.f == "read":
        return bool(state.value(p.key) == result)
    if p.f == "cas" and isinstance(result, bool):
        return bool((state.value(p.key) == p.value[0]) == result)
    return True


def _new_value(x: Input) -> Hashable | None:
    # The value a write or cas may install: the key of the operations it may rescue.
    if x.f == "write":
        return ("value", x.key, x.value)
    if x.f == "cas":
        return ("value", x.key, x.value[1])
    return None


def _wanted_value(p: Input, result: Any) -> Hashable | None:
    # The value a read (or a successful cas) needs; a failed compare needs any other
    # value, so any write or cas may help it (``None``).
    if p.f == "read":
        return ("value", p.key, result)
    if p.f == "cas" and result is True:
        return ("value", p.key, p.value[0])
    return None


def _register_rescues(x: Input, _x_result: Any, p: Input, p_result: Any) -> bool:
    # Asked for keys equal to the wanted value (then the value is installed) or for a
    # failed compare, which only a value other than ``old`` of the same key can help.
    if p.f == "cas" and p_result is False:
        new = x.value if x.f == "write" else x.value[1]
        return bool(x.key == p.key and new != p.value[0])
    return True


REGISTER_REACH: Final = Reach(
    covers=lambda p, result: p.f == "read" or (p.f == "cas" and isinstance(result, bool)),
    reach=_register_reach,
    rescue_key=_new_value,
    wanted_key=_wanted_value,
    rescues=_register_rescues,
)
"""Reachability for registers: a read of ``v`` (a successful cas from ``v``) is possible
exactly when its key holds ``v``; only a write of ``v`` or a cas to ``v`` of that key
can change that. A failed compare against ``v`` needs any other value of its key."""


REGISTER_ADAPTER: Final = Adapter(
    model="register",
    functions=frozenset({"read", "write"}),
    to_input=_register_input,
    ok_result=_register_result,
    pure=_register_pure,
    blind=lambda inp, _result: ("write", inp.key) if inp.f == "write" else None,
    state_phrase=_register_phrase,
    reach=REGISTER_REACH,
)
"""``register``: one register per key (operations without a key share the key
``None``); a read's result is its output (``None``: never written); a write's input is
the value written. Keys and values are held as :class:`Value`."""


def _cas_result(op: Operation) -> Any:
    if op.f == "read":
        return Value(op.output)
    if op.f == "cas":
        # An ok cas took effect, unless its completion records the outcome False.
        return op.output is not False
    return None


def _cas_failed(op: Operation) -> Any:
    # Only a cas has a condition: its compare did not hold. A read or a write that
    # "failed its condition" says nothing the model can check: an error in the history.
    if op.f != "cas":
        where = f", line {op.line}" if op.line is not None else ""
        raise HistoryError(
            f"operation {op.id} ({op.f}{where}) failed with 'condition-failed', but only a "
            "cas has a condition in model 'cas-register'; expected ok, info or another fail"
        )
    return False


def _cas_pure(inp: Input, result: Any) -> bool:
    # A read never changes the state; neither does a cas whose compare failed.
    return inp.f == "read" or (inp.f == "cas" and result is False)


CAS_REGISTER_ADAPTER: Final = Adapter(
    model="cas-register",
    functions=frozenset({"read", "write", "cas"}),
    to_input=_register_input,
    ok_result=_cas_result,
    failed_result=_cas_failed,
    pure=_cas_pure,
    blind=lambda inp, _result: ("write", inp.key) if inp.f == "write" else None,
    state_phrase=_register_phrase,
    reach=REGISTER_REACH,
)
"""``cas-register``: one register per key, as ``register``; read -> its output (``None``
= absent); write -> its input; cas -> the pair ``(old, new)`` with result True when ok
(unless the completion's value is ``False``), False for a ``condition-failed``
observation."""


def _kv_input(op: Operation) -> Input:
    if op.f == "get":
        return Input("get", Value(op.key))
    _check_echo(op)
    if type(op.input) is not str:
        where = f", line {op.line}" if op.line is not None else ""
        raise HistoryError(
            f"operation {op.id} ({op.f}{where}): field value is {op.input!r}; model 'kv' "
            "puts and appends strings (a keyword is not one)"
        )
    return Input(op.f, Value(op.key), op.input)


def _kv_result(op: Operation) -> Any:
    # A plain string stays one (the reach knowledge works on strings); anything else a
    # get returned is held as a Value, which no string matches.
    if op.f != "get":
        return None
    if op.output is None:
        return ""
    return op.output if type(op.output) is str else Value(op.output)


def _kv_phrase(_spec: SequentialSpec[Any], state: Any, op: Input) -> str:
    value = state.value(op.key) if hasattr(state, "value") else state
    return f"key {op.key!r} holds {value!r}"


def _kv_reach(state: Any, p: Input, result: Any) -> bool:
    # Appends only extend a key's string: a get can still be satisfied only while the
    # string is a prefix of what it read. Puts and appends are always allowed.
    if p.f != "get" or type(result) is not str or not hasattr(state, "value"):
        return True
    return result.startswith(state.value(p.key))


def _kv_rescues(x: Input, _x_result: Any, p: Input, p_result: Any) -> bool:
    # Only a put of the same key can start the string afresh; it helps a get only if
    # what the get read starts with the value put.
    if p.f != "get" or type(p_result) is not str or type(x.value) is not str:
        return True
    return p_result.startswith(x.value)


KV_REACH: Final = Reach(
    covers=lambda p, result: p.f == "get" and type(result) is str,
    reach=_kv_reach,
    rescue_key=lambda x: x.key if x.f == "put" else None,
    wanted_key=lambda p, _result: p.key,
    rescues=_kv_rescues,
)
"""Reachability for the key-value store: appends only extend a key's string, so a get
is still possible only while the key holds a prefix of what it read, unless a put of
the key (of a prefix of that) comes first."""


KV_ADAPTER: Final = Adapter(
    model="kv",
    functions=frozenset({"get", "put", "append"}),
    to_input=_kv_input,
    ok_result=_kv_result,
    pure=lambda inp, _result: inp.f == "get",
    blind=lambda inp, _result: ("put", inp.key) if inp.f == "put" else None,
    state_phrase=_kv_phrase,
    reach=KV_REACH,
)
"""``kv``: get -> its output string (``""`` when None); put and append -> their input;
the key is the operation's key."""


# The item adapter delegates to ``replicheck.histories.items`` (the item-history codec),
# imported late: the item-store model is only needed for item histories.

_ITEM_FUNCTIONS: Final = frozenset(
    {"get-strong", "get-eventual", "put", "update", "delete", "transact-write",
     "transact-get"}
)
_ITEM_READS: Final = frozenset({"get-strong", "get-eventual", "transact-get"})


def _item_input(op: Operation) -> Input:
    from replicheck.histories.items import request_of
    from replicheck.histories.windows import span_of

    return Input(op.f, None, request_of(op), span_of(op))


def _item_ok(op: Operation) -> Any:
    from replicheck.histories.items import response_of

    return response_of(op)


def _item_failure(op: Operation) -> Any:
    from replicheck.histories.items import failure_of

    return failure_of(op)


def _item_pure(inp: Input, result: Any) -> bool:
    # Reads never change the item store, and neither does a request that ended in a
    # definite error (a failed condition, a cancelled transaction).
    if inp.f in _ITEM_READS:
        return True
    if result is UNKNOWN:
        return False
    from replicheck.histories.items import changes_nothing

    return changes_nothing(inp.f, result)


def _item_phrase(_spec: SequentialSpec[Any], state: Any, op: Input) -> str:
    from replicheck.histories.items import describe_touched

    return describe_touched(state, op.value)


ITEM_ADAPTER: Final = Adapter(
    model="item",
    functions=_ITEM_FUNCTIONS,
    to_input=_item_input,
    ok_result=_item_ok,
    failed_result=_item_failure,
    pure=_item_pure,
    state_phrase=_item_phrase,
)
"""``item``: DynamoDB-shaped item histories (format: ``replicheck.histories.items``).
Input = the request (decoded from the invocation's JSON; a request object is taken as
it is), with the specification's ``keys`` splitting the history by item (transactions
connect items). Result = the :class:`~replicheck.models.items.requests.Response` of an
``ok``; for a ``condition-failed`` fail, the ``Failure`` it observed
(``ConditionalCheckFailed``, or ``TransactionCanceled`` with its reasons). Other
``fail`` records are left out; ``info`` ones may take effect or not. Gets,
transact-gets and definite failures are pure. A malformed request or outcome is a
``HistoryError`` (a ``ValueError``) naming the operation, its line and the field."""


ADAPTERS: dict[str, Adapter] = {
    a.model: a for a in (REGISTER_ADAPTER, CAS_REGISTER_ADAPTER, KV_ADAPTER, ITEM_ADAPTER)
}
"""The adapters by model name."""

SPEC_MODELS: Final[Mapping[str, str]] = {"item-store": "item"}
"""Model names of specifications whose ``name`` differs from the model's."""


def register_adapter(adapter: Adapter) -> None:
    """Make ``adapter`` the one used for its model name (replacing any earlier one)."""
    ADAPTERS[adapter.model] = adapter


def adapter_for(model: str) -> Adapter:
    """The adapter of ``model``; ``ValueError`` naming the known models otherwise."""
    try:
        return ADAPTERS[model]
    except KeyError:
        raise ValueError(
            f"no linearizability adapter for model {model!r}; known models: "
            f"{', '.join(sorted(ADAPTERS))}"
        ) from None
