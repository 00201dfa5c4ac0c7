"""Every history of the shared porcupine corpus loads with format detection, and what it
holds matches a plain count of its lines."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from replicheck.histories.formats import detect, load

LOG_LINE = re.compile(r"jepsen\.util - (\S+)\s+:(invoke|ok|fail|info)\s+:(\w+)")
EDN_LINE = re.compile(r":process (\d+), :type :(\w+), :f :(\w+)")


def line_counts(path: Path) -> Counter[str]:
    """Record types counted straight from the text, independently of the readers."""
    pattern = LOG_LINE if path.suffix == ".log" else EDN_LINE
    return Counter(m.group(2) for m in pattern.finditer(path.read_text()))


def test_corpus_history_loads(porcupine: Path, porcupine_file: str) -> None:
    path = porcupine / porcupine_file
    text = path.read_text()
    h = load(path)
    counts = line_counts(path)
    assert h.source == str(path) and h.skipped == () and h.faults == ()
    assert len(h) == counts["invoke"]
    statuses = Counter(o.status for o in h.operations)
    completed = counts["ok"] + counts["fail"] + counts["info"]
    pending = counts["invoke"] - completed
    assert statuses == Counter({"ok": counts["ok"], "fail": counts["fail"],
                                "info": counts["info"] + pending}) - Counter()
    if porcupine_file.startswith("kv/"):
        assert detect(text) == "edn"
        assert h.functions <= {"get", "put", "append"} and len(h) > 10
        assert all(o.key is not None and o.ok for o in h.operations)
        assert all(isinstance(o.input, str | None) for o in h.operations)
    elif porcupine_file == "jepsen/etcd_095.log":
        assert text == "" and len(h) == 0
    else:
        assert detect(text) == "jepsen-log"
        assert h.functions <= {"read", "write", "cas"} and len(h) > 10
        assert all(o.key is None for o in h.operations)
        for o in h.operations:
            if o.f == "cas":
                assert isinstance(o.input, list) and len(o.input) == 2
            if o.f == "read" and o.ok:
                assert o.output is None or isinstance(o.output, int)
            if o.indeterminate and o.ret is not None:
                assert o.error == "timed-out"


def test_the_corpus_has_the_histories_the_manifest_promises(porcupine: Path) -> None:
    logs = sorted(p.name for p in (porcupine / "jepsen").glob("*.log"))
    kv = sorted(p.name for p in (porcupine / "kv").glob("*.txt"))
    assert len(logs) == 103 and "etcd_095.log" in logs
    assert len(kv) == 6
