"""Recursion without the Python stack: the one home of how the expression code walks
structures whose depth the input controls.

A recursive function is written as a generator that *yields* each recursive call
instead of making it, and receives the call's result back from the ``yield``::

    def depth(node) -> Step[int]:
        if not node.children:
            return 1
        deepest = 0
        for child in node.children:
            deepest = max(deepest, (yield depth(child)))
        return deepest + 1

    run(depth(tree))

:func:`run` keeps the suspended calls on a list, so the depth of the recursion is
bounded by memory, not by ``sys.getrecursionlimit()``, and a ``RecursionError`` cannot
happen whatever the input. Exceptions travel as with ordinary calls: one raised in a
callee is raised at the caller's ``yield``, where ``try``/``except`` sees it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeAlias, TypeVar

__all__ = ["Step", "run"]

_T = TypeVar("_T")

Step: TypeAlias = Generator[Any, Any, _T]
"""A call of a trampolined function: yields calls (``Step``s), returns its result."""


def run(call: Step[_T]) -> _T:
    """The result of ``call``, evaluating the calls it yields (and theirs) on an
    explicit stack; an exception escaping the outermost call is raised here."""
    stack: list[Step[Any]] = [call]
    value: Any = None
    error: BaseException | None = None
    while True:
        top = stack[-1]
        try:
            if error is not None:
                pending, error = error, None
                callee = top.throw(pending)
            else:
                callee = top.send(value)
        except StopIteration as finished:
            stack.pop()
            if not stack:
                return finished.value  # type: ignore[no-any-return]
            value = finished.value
            continue
        except Exception as raised:
            stack.pop()
            if not stack:
                raise
            error = raised
            continue
        stack.append(callee)
        value = None
