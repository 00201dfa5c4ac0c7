"""The limits of one check: a deadline and a memory budget, and how they are enforced.

``replicheck check --timeout S --memory MB`` (CONTRACTS.md section 6) bounds the whole
check of one history, reading and set-up included. :class:`Limits` is that value:
made once when the command starts (:meth:`Limits.start`), asked for the time left
(:meth:`Limits.remaining`, what the checkers receive as their own timeout, so that they
stop at the deadline and say what they decided so far).

:func:`enforced` is the backstop for code that does not look at the clock, and the
whole mechanism for memory:

- *time*: an interval timer (``SIGALRM``) raises :class:`LimitReached` in the main
  thread a little after the deadline (the grace lets the checkers' own, more informative,
  "unknown" come first); a timer thread interrupts z3 if it is still solving then (z3's
  C code does not return to Python for the signal to be handled).
- *memory*: the process's data segment (heap and private mappings, ``RLIMIT_DATA``) is
  capped at the budget, so an allocation past it fails with ``MemoryError`` instead of
  growing until the kernel kills the process; z3's own ``memory_max_size`` is set to the
  same budget, so z3 raises ``Z3Exception('out of memory')`` rather than aborting. Both
  are turned into :class:`LimitReached` at the boundary, and the limit is lifted again
  on the way out so that the answer can be printed.

Reaching a limit is never a verdict: the caller answers "unknown" and names the limit.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import FrameType
from typing import Any, Final, Literal

LimitKind = Literal["time", "memory"]

MEBIBYTE: Final = 1 << 20

_RLIMIT_MAX: Final = (1 << 63) - 1
"""The largest limit ``resource.setrlimit`` takes (a C ``long``): a larger budget is no
cap at all on the data segment."""

_Z3_MEGABYTES_MAX: Final = (1 << 32) - 1
"""The largest ``memory_max_size`` z3 takes (an unsigned int of mebibytes): z3 ignores a
larger one with a warning on standard output."""


class LimitReached(BaseException):
    """The time or memory limit of a check was reached. A BaseException, like
    KeyboardInterrupt, so that no ``except Exception`` on the way up swallows it."""

    def __init__(self, kind: LimitKind, message: str) -> None:
        super().__init__(message)
        self.kind: LimitKind = kind
        self.message = message


def parse_seconds(text: str) -> float:
    """``--timeout``'s argument: a finite number of seconds >= 0 (0: no limit).
    ValueError naming what was expected otherwise (``nan``, ``inf``, ``-1``, text)."""
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"expected a number of seconds >= 0 (0: no limit), got {text!r}"
                         ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a finite number of seconds >= 0 (0: no limit), "
                         f"got {text!r}")
    if seconds == 0 and _positive(text):
        # 1e-400 is a limit, not "no limit": it must not round to 0
        raise ValueError(f"expected 0 (no limit) or a number of seconds above 0 that does "
                         f"not round to 0, got {text!r}")
    return seconds


def _positive(text: str) -> bool:
    """Whether ``text`` (a number ``float`` read as 0) is above 0 written exactly."""
    try:
        return Decimal(text.strip()) > 0
    except (InvalidOperation, ValueError):  # pragma: no cover - float read it
        return False


def parse_megabytes(text: str) -> float:
    """``--memory``'s argument: a finite number of mebibytes > 0. ValueError naming
    what was expected otherwise."""
    try:
        megabytes = float(text)
    except ValueError:
        raise ValueError(f"expected a number of megabytes > 0, got {text!r}") from None
    if not math.isfinite(megabytes) or megabytes <= 0:
        raise ValueError(f"expected a finite number of megabytes > 0, got {text!r}")
    return megabytes


def default_memory() -> int:
    """The default budget in bytes: half the machine's memory, or half the control
    group's limit when that is lower (a container's memory is its machine)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with contextlib.suppress(OSError, ValueError):
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as cgroup:
            text = cgroup.read().strip()
        if text != "max":
            total = min(total, int(text))
    return total // 2


@dataclass(frozen=True)
class Limits:
    """A deadline (a ``time.perf_counter()`` value, None: none) and a memory budget in
    bytes (None: none), with the ``timeout`` in seconds they came from (for messages)."""

    deadline: float | None = None
    memory: int | None = None
    timeout: float | None = None

    @classmethod
    def start(cls, timeout: float | None, memory_mb: float | None) -> Limits:
        """Limits starting now: ``timeout`` seconds (None or 0: none) and ``memory_mb``
        mebibytes (None: none)."""
        deadline = time.perf_counter() + timeout if timeout else None
        memory = None if memory_mb is None else max(1, int(memory_mb * MEBIBYTE))
        return cls(deadline, memory, timeout or None)

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never below a millisecond, so that a
        checker given it stops at once rather than running unbounded); None: no
        deadline."""
        if self.deadline is None:
            return None
        return max(0.001, self.deadline - time.perf_counter())

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def reached(self) -> bool:
        """Whether the deadline has passed, or nearly (within a hundredth of the timeout
        plus 10 ms: a solver given whole milliseconds may stop that much early). A
        checker that answers "unknown" before that did not stop for the time limit."""
        if self.deadline is None or self.timeout is None:
            return False
        return time.perf_counter() >= self.deadline - 0.01 * self.timeout - 0.01

    def time_message(self) -> str:
        """How the time limit is named in a verdict."""
        return f"time limit of {self.timeout:g} s reached"

    def memory_message(self) -> str:
        """How the memory limit is named in a verdict."""
        size = (self.memory or 0) / MEBIBYTE
        return f"memory limit of {size:g} MB reached"


def grace(timeout: float) -> float:
    """How long after the deadline the backstop fires: the checkers' own limit handling
    (which reports the part decided) gets a tenth of the timeout, at most a second."""
    return min(1.0, 0.1 * timeout) + 0.02


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says memory ran out: Python's MemoryError, or z3's
    ``Z3Exception('out of memory')`` (whose value is bytes)."""
    if isinstance(error, MemoryError):
        return True
    if type(error).__name__ != "Z3Exception":
        return False
    value = getattr(error, "value", error)
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return "out of memory" in text or "max. memory exceeded" in text


@contextlib.contextmanager
def enforced(limits: Limits) -> Iterator[None]:
    """Enforce ``limits`` around a block: past the deadline (plus :func:`grace`) the
    block is interrupted with :class:`LimitReached` ("time"); an allocation past the
    memory budget (MemoryError, z3's out of memory) becomes :class:`LimitReached`
    ("memory"). On the way out the timer and the memory cap are removed again."""
    alarm = _Alarm()
    with contextlib.ExitStack() as stack:
        if limits.deadline is not None and limits.timeout is not None:
            # first: the timer's thread must not count against the memory budget
            stack.enter_context(_alarm(limits.deadline + grace(limits.timeout),
                                       limits.time_message(), alarm))
        if limits.memory is not None:
            stack.enter_context(_memory_capped(limits.memory))
        reached: LimitKind | None = None
        try:
            yield
        except (LimitReached, GeneratorExit):
            # GeneratorExit: the block never ran (the alarm went off just after entering);
            # the LimitReached that stopped it is already on its way
            raise
        except BaseException as error:
            # Python may wrap the alarm's exception (raised inside an import, a
            # __set_name__, a finaliser) into another one: once the alarm rang, whatever
            # comes out is the time limit.
            if alarm.rang:
                reached = "time"
            elif is_out_of_memory(error):
                reached = "memory"
            else:
                raise
        else:
            if alarm.rang:  # rang, and something swallowed it: the result is not trusted
                reached = "time"
    # Here the cap is lifted and the failed allocation's frames are gone.
    if reached == "time":
        raise LimitReached("time", limits.time_message()) from None
    if reached == "memory":
        raise LimitReached("memory", limits.memory_message()) from None


@contextlib.contextmanager
def _memory_capped(budget: int) -> Iterator[None]:
    """Cap the data segment at ``budget`` bytes (never above the hard limit) and z3's
    memory at the same size; restore both afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = min(budget, _RLIMIT_MAX) if hard == resource.RLIM_INFINITY else min(budget, hard)
    z3_set = _z3_memory(min(budget // MEBIBYTE, _Z3_MEGABYTES_MAX))
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    try:
        yield
    finally:
        # the alarm waits until the cap is lifted: the answer must have memory to print
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
            if z3_set:
                _z3_memory(0)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _z3_memory(megabytes: int) -> bool:
    """Set z3's global ``memory_max_size`` (0: unlimited); False when z3 is absent."""
    try:
        import z3
    except ImportError:  # pragma: no cover - z3 is a dependency
        return False
    z3.set_param("memory_max_size", max(1, megabytes) if megabytes else 0)
    return True


REPEAT: Final = 0.05
"""Seconds between two rings of the alarm once the deadline has passed."""


class _Alarm:
    """Whether the alarm of :func:`_alarm` went off, and whether it is being disarmed."""

    def __init__(self) -> None:
        self.rang = False
        self.done = False


@contextlib.contextmanager
def _alarm(at: float, message: str, alarm: _Alarm) -> Iterator[None]:
    """Raise LimitReached("time", message) in the main thread at ``at`` (a
    ``perf_counter`` value), noting it in ``alarm``, and interrupt z3 then. Does nothing
    outside the main thread (signals reach only it)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "setitimer"):
        yield
        return

    def ring(_signum: int, _frame: FrameType | None) -> None:
        if alarm.done:  # being disarmed: nothing more to stop
            return
        alarm.rang = True
        raise LimitReached("time", message)

    def unraisable(report: Any) -> None:
        if not isinstance(report.exc_value, LimitReached):
            hook(report)

    hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    previous = signal.signal(signal.SIGALRM, ring)
    watchdog = threading.Timer(max(0.001, at - time.perf_counter()) + 0.05, _interrupt_z3)
    watchdog.daemon = True
    try:
        # rings at the deadline, then again every REPEAT seconds until disarmed: where
        # Python drops the exception (a weakref callback, a finaliser), the next one
        # stops the code. Armed inside the try: a deadline already past rings at once,
        # and the timer must still be disarmed (left repeating, it killed the process
        # with SIGALRM once Python restored the default handler at exit).
        signal.setitimer(signal.ITIMER_REAL, max(0.001, at - time.perf_counter()), REPEAT)
        watchdog.start()
        yield
    finally:
        # each step runs even if a last ring raises between two of them
        try:
            alarm.done = True
        finally:
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                watchdog.cancel()
            finally:
                signal.signal(signal.SIGALRM, previous)
                sys.unraisablehook = hook


def _interrupt_z3() -> None:
    """Ask z3's main context to stop what it is doing (it then answers unknown or
    raises, and the pending alarm is handled as soon as control is back in Python)."""
    z3 = sys.modules.get("z3")
    if z3 is None:
        return
    with contextlib.suppress(Exception):
        z3.main_ctx().interrupt()
