"""History formats: reading JSON lines, Jepsen EDN and Jepsen logs, writing JSON lines
and EDN.

``load(path)`` / ``loads(text)`` give a paired :class:`~replicheck.histories.history.History`
(the format detected from the content unless named); ``read_records`` gives the records;
``detect`` names the format; ``dumps_jsonl`` / ``dumps_edn`` write records. Every
malformed input is a :class:`~replicheck.histories.history.HistoryError` naming the source,
the line and what was expected; ``lenient=True`` skips malformed lines instead and keeps
their errors (``History.skipped``). The formats are specified in the docstrings of
:mod:`.jsonl`, :mod:`.edn` and :mod:`.jepsen_log`.

Whatever the text, reading gives a history or a ``HistoryError``, never another
exception: every reader enforces the limits of :mod:`.limits` (values nested at most
:data:`~replicheck.histories.history.MAX_NESTING` deep, integers within Python's digit
limit, no lone surrogates), so the values of a history read are safe for the checkers,
reports and writers that recurse over, hash, print and encode them.
"""

from replicheck.histories.formats.detect import FORMATS, detect, load, loads, read_records
from replicheck.histories.formats.edn import dumps_edn
from replicheck.histories.formats.jsonl import dumps_jsonl

__all__ = ["FORMATS", "detect", "dumps_edn", "dumps_jsonl", "load", "loads", "read_records"]
