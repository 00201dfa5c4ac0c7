"""What the ``replicheck`` command line writes to the terminal, and the exit statuses
it returns (CONTRACTS.md section 6): a line written as the stream can encode it, a
verdict that survives a reader going away, a usage error (exit 2)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from replicheck.reports.escaping import terminal_line

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_CRASH = 4


def printable(text: str, stream: TextIO) -> str:
    """``text`` as ``stream`` can encode it: what it cannot (a lone surrogate read
    from a history, say) is written as a backslash escape instead of failing."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # pragma: no cover - an encoding Python does not know
        return text.encode("ascii", "backslashreplace").decode("ascii")
    return text


def emit(text: str) -> None:
    """Print ``text``; a reader that went away (``| head``) changes nothing: the exit
    status still says the verdict."""
    try:
        print(printable(text, sys.stdout), flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def fail_usage(message: str) -> int:
    # the message quotes the input (a file name, a field): one line, no terminal controls
    print(printable(f"replicheck: error: {terminal_line(message)}", sys.stderr),
          file=sys.stderr)
    return EXIT_USAGE
