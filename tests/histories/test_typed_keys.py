"""Keys of every key type (string, number, binary; one attribute or two) name the same
item in a history and in a replica observation, and different items never share a
name: the convergence checker matches an operation's key (``canonical_key``) with the
key an observation names (``key_text``, read back by ``decode_key``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.convergence import decode_key
from replicheck.histories.checkers.sessions import canonical_key
from replicheck.models.items.values import key_part_from_json, key_part_json, key_text, normalize

numbers = st.builds(lambda digits, exponent: normalize(Decimal(digits).scaleb(exponent)),
                    st.integers(-10**38 + 1, 10**38 - 1), st.integers(-60, 60))
parts: st.SearchStrategy[Any] = st.one_of(st.text(max_size=6), numbers, st.binary(max_size=6))
keys = st.lists(parts, min_size=1, max_size=2).map(tuple)


def same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """DynamoDB equality of two key tuples (types apart: b"1" is not "1")."""
    return len(a) == len(b) and all(type(x) is type(y) and x == y
                                    for x, y in zip(a, b, strict=False))


@given(keys)
def test_an_observed_key_names_the_operations_key(key: tuple[Any, ...]) -> None:
    assert canonical_key(decode_key(key_text(key))) == canonical_key(key)
    assert canonical_key(list(key)) == canonical_key(key)


@given(keys, keys)
def test_different_keys_never_share_a_name(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    assert (canonical_key(a) == canonical_key(b)) == same(a, b)
    assert (key_text(a) == key_text(b)) == same(a, b)


@given(parts)
def test_a_key_part_reads_back(part: Any) -> None:
    back = key_part_from_json(key_part_json(part))
    assert type(back) is type(part) or (isinstance(part, Decimal) and isinstance(back, int))
    assert back == part


def test_the_forms_the_observations_write() -> None:
    assert key_text((b"\x00ab",)) == '{"B": "AGFi"}'
    assert key_text((Decimal("-12.5e3"),)) == "-12500"
    assert key_text((Decimal("0.10"),)) == '{"N": "0.1"}'
    assert canonical_key(b"\x00ab") == '{"B":"AGFi"}'
    assert canonical_key(b"\x00ab") != canonical_key("0061 62") != canonical_key("AGFi")
    assert canonical_key(Decimal("12345678901234567890.1")) != canonical_key(
        Decimal("12345678901234567890.2"))
    assert decode_key('{"B": "not base64!"}') == {"B": "not base64!"}
