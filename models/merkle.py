"""Merkle trees over a range of key tokens, for anti-entropy between replicas.

A :class:`MerkleTree` summarises a key -> value mapping so that two replicas can find
the keys on which they differ by exchanging a few hashes: equal subtrees are never
entered. Trees are immutable values; an update returns a new tree that shares every
untouched subtree with the old one and recomputes only the hashes on one root-to-leaf
path (``depth + 1`` node hashes).

Keys. A key is a ``str``, ``bytes``, an ``int`` or ``decimal.Decimal`` (a number), or
a tuple of keys (the store's composite keys, e.g. ``("user", Decimal(7))``).
:func:`encode_key` turns it into canonical bytes: tagged and length-prefixed, so the
encoding is injective, and numbers are encoded by value (``1``, ``Decimal("1.0")``
and ``Decimal("1E0")`` are the same key, as in DynamoDB). Keys that are equal in
Python encode equally and unequal keys encode differently. ``bool``, ``float``,
``None`` and lists are not keys (``TypeError``); non-finite numbers are rejected
(``ValueError``).

Values. A value is ``bytes`` (or ``bytearray``/``memoryview``, read as bytes),
``str``, a number as above, ``bool``, ``None``, a list or tuple of values (the same
kind: DynamoDB has one list type), a mapping from keys to values (a DynamoDB map;
entry order is irrelevant), or a set/frozenset of values (order irrelevant).
:func:`encode_value` gives its canonical bytes. The tree treats two values as the
same exactly when their encodings are equal; this agrees with Python's ``==`` except
that a ``bool`` is never equal to a number (``True`` and ``1`` differ, as BOOL and N
do in DynamoDB) and a list equals the tuple with the same elements.

Buckets. Keys are placed by position, not by the pluggable hash: every key has a
64-bit token (:func:`key_token`, a fixed BLAKE2b of its encoding, independent of
Python's hash randomisation and of the tree's hash function). A tree covers the
tokens ``[lo, hi)`` of its :class:`MerkleShape`; its ``fanout ** depth`` leaves
(buckets) split that range into contiguous, nearly equal sub-ranges in token order,
and every node covers the union of its children's ranges (:meth:`MerkleShape.node_range`).
A replica can therefore report one root per key range, and a store whose ring places
keys by :func:`key_token` can give each ring range its own tree.

Hashes. A bucket's hash is the hash of its entries sorted by encoded key, each entry
being the encoded key and the hash of the encoded value; an empty bucket has a fixed
hash; an inner node's hash is the hash of its children's hashes in order. Domain
tags keep value, bucket and inner-node inputs apart. The hash function is a
parameter of the shape (any callable ``bytes -> bytes``); the default is BLAKE2b with
a 32-byte digest. A deliberately tiny hash such as ``BlakeHash(1)`` makes collisions
easy to find: then equal roots no longer imply equal contents and :func:`diff` can
miss differing keys (it trusts equal hashes). With a collision-free hash, roots are
equal exactly when the mappings are equal.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Final, TypeAlias, TypeVar

Key: TypeAlias = "str | bytes | int | Decimal | tuple[Key, ...]"
"""A key the tree accepts: str, bytes, a number (int or Decimal), or a tuple of keys."""

_K = TypeVar("_K", bound=Key)

HashFn: TypeAlias = Callable[[bytes], bytes]
"""A hash function: any callable from bytes to bytes."""

TOKEN_SPACE: Final = 2**64
"""Key tokens are integers in ``[0, TOKEN_SPACE)``."""

_VALUE_TAG: Final = b"\x00"
_BUCKET_TAG: Final = b"\x01"
_INNER_TAG: Final = b"\x02"


# --------------------------------------------------------------------------- encoding


def _uvarint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL_VARINTS[n]
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


_SMALL_VARINTS: Final = tuple(bytes((n,)) for n in range(0x80))


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + _uvarint(len(payload)) + payload


def _number_text(x: int | Decimal) -> str:
    if isinstance(x, int) and -(2**63) < x < 2**63:
        if x == 0:
            return "0"
        text = str(abs(x))
        digits_text = text.rstrip("0")
        return f"{'-' if x < 0 else ''}{digits_text}e{len(text) - len(digits_text)}"
    d = Decimal(x) if isinstance(x, int) else x
    if not d.is_finite():
        raise ValueError(f"number {x!r} is not finite: only finite numbers can be encoded")
    sign, digit_tuple, exponent = d.as_tuple()
    assert isinstance(exponent, int)  # finite numbers have an integer exponent
    digits = list(digit_tuple)
    while len(digits) > 1 and digits[0] == 0:
        digits.pop(0)
    if all(digit == 0 for digit in digits):
        return "0"
    while digits[-1] == 0:
        digits.pop()
        exponent += 1
    return f"{'-' if sign else ''}{''.join(map(str, digits))}e{exponent}"


def _encode_text(s: str) -> bytes:
    return _chunk(b"s", s.encode("utf-8", "surrogatepass"))


def encode_key(key: Key) -> bytes:
    """The canonical bytes of ``key``: equal keys (numbers by value) give equal bytes,
    unequal keys give different bytes, and the result never depends on the process.

    Raises ``TypeError`` for anything that is not a key (see the module docstring) and
    ``ValueError`` for a non-finite number.
    """
    if isinstance(key, str):
        return _encode_text(key)
    if isinstance(key, bytes):
        return _chunk(b"b", key)
    if isinstance(key, bool):
        raise TypeError(f"bool {key!r} is not a valid key: use str, bytes, a number or a tuple")
    if isinstance(key, int | Decimal):
        return _chunk(b"n", _number_text(key).encode("ascii"))
    if isinstance(key, tuple):
        return b"t" + _uvarint(len(key)) + b"".join(encode_key(part) for part in key)
    raise TypeError(
        f"{type(key).__name__} {key!r} is not a valid key: use str, bytes, an int or "
        "Decimal, or a tuple of those"
    )


def encode_value(value: object) -> bytes:
    """The canonical bytes of ``value``: values the tree treats as the same (see the
    module docstring) give equal bytes, others give different bytes; independent of
    mapping and set iteration order and of the process.

    Raises ``TypeError`` for an unsupported type and ``ValueError`` for a non-finite
    number.
    """
    if value is None:
        return b"z"
    if isinstance(value, bool):
        return b"?" + (b"\x01" if value else b"\x00")
    if isinstance(value, str):
        return _encode_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _chunk(b"b", bytes(value))
    if isinstance(value, int | Decimal):
        return _chunk(b"n", _number_text(value).encode("ascii"))
    if isinstance(value, list | tuple):
        return b"l" + _uvarint(len(value)) + b"".join(encode_value(v) for v in value)
    if isinstance(value, Mapping):
        entries = sorted((encode_key(k), encode_value(v)) for k, v in value.items())
        return b"m" + _uvarint(len(entries)) + b"".join(k + v for k, v in entries)
    if isinstance(value, AbstractSet):
        elements = sorted(encode_value(v) for v in value)
        return b"e" + _uvarint(len(elements)) + b"".join(elements)
    raise TypeError(
        f"{type(value).__name__} {value!r} is not a valid value: use bytes, str, a number, "
        "bool, None, a list, a mapping or a set of those"
    )


def _token_of_encoded(encoded_key: bytes) -> int:
    digest = hashlib.blake2b(encoded_key, digest_size=8, person=b"replicheck-token").digest()
    return int.from_bytes(digest, "big")


def key_token(key: Key) -> int:
    """The position of ``key`` in ``[0, TOKEN_SPACE)``: a fixed function of
    :func:`encode_key` (the same in every process), spread uniformly; it decides which
    bucket of a tree holds the key."""
    return _token_of_encoded(encode_key(key))


# --------------------------------------------------------------------------- hashes


@dataclass(frozen=True)
class BlakeHash:
    """The hash function BLAKE2b with ``digest_size`` bytes of output (1 to 64).

    ``BlakeHash(32)`` is the default; ``BlakeHash(1)`` is a deliberately tiny hash
    whose collisions tests can find by trying a few hundred inputs. Instances with the
    same size are equal, so shapes built with them are equal too.
    """

    digest_size: int = 32

    def __post_init__(self) -> None:
        if isinstance(self.digest_size, bool) or not isinstance(self.digest_size, int):
            raise TypeError(f"digest_size must be an int, got {self.digest_size!r}")
        if not 1 <= self.digest_size <= 64:
            raise ValueError(f"digest_size must be between 1 and 64, got {self.digest_size}")

    def __call__(self, data: bytes) -> bytes:
        """The BLAKE2b digest of ``data``, ``digest_size`` bytes long."""
        return hashlib.blake2b(data, digest_size=self.digest_size).digest()


DEFAULT_HASH: Final = BlakeHash(32)
"""The default hash: BLAKE2b with a 32-byte digest."""


@dataclass(frozen=True)
class TokenRange:
    """The key tokens ``lo <= t < hi`` (see :func:`key_token`)."""

    lo: int
    hi: int

    def __contains__(self, token: object) -> bool:
        """True when ``token`` is an int in the range."""
        return isinstance(token, int) and self.lo <= token < self.hi

    def contains_key(self, key: Key) -> bool:
        """True when the token of ``key`` is in the range."""
        return key_token(key) in self

    @property
    def size(self) -> int:
        """How many tokens the range holds."""
        return self.hi - self.lo


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True, slots=True)
class _Entry:
    encoded_key: bytes
    key: Key
    value_hash: bytes


@dataclass(frozen=True, slots=True)
class _Leaf:
    digest: bytes
    entries: tuple[_Entry, ...]


@dataclass(frozen=True, slots=True)
class _Inner:
    digest: bytes
    children: tuple[_Leaf | _Inner, ...]


_Node: TypeAlias = "_Leaf | _Inner"


def _check_digest(digest: object, hash_fn: object) -> bytes:
    if not isinstance(digest, bytes):
        raise TypeError(
            f"hash function {hash_fn!r} returned {type(digest).__name__}, expected bytes"
        )
    return digest


def _hash_leaf(hash_fn: HashFn, entries: tuple[_Entry, ...]) -> _Leaf:
    parts = [_BUCKET_TAG, _uvarint(len(entries))]
    for entry in entries:
        parts.append(_uvarint(len(entry.encoded_key)))
        parts.append(entry.encoded_key)
        parts.append(_uvarint(len(entry.value_hash)))
        parts.append(entry.value_hash)
    return _Leaf(_check_digest(hash_fn(b"".join(parts)), hash_fn), entries)


def _hash_inner(hash_fn: HashFn, children: tuple[_Node, ...]) -> _Inner:
    parts = [_INNER_TAG]
    for child in children:
        parts.append(_uvarint(len(child.digest)))
        parts.append(child.digest)
    return _Inner(_check_digest(hash_fn(b"".join(parts)), hash_fn), children)


# --------------------------------------------------------------------------- shape


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass(frozen=True)
class MerkleShape:
    """The shape of a tree: ``fanout`` children per inner node (>= 2), ``depth``
    levels below the root (>= 1, so ``fanout ** depth`` leaf buckets), the hash
    function, and the token range ``[lo, hi)`` the tree covers (the whole token space
    by default; it must hold at least one token per bucket).

    ``hash_fn`` must be deterministic; the shape calls it once per level when made.
    Level 0 is the root; level ``depth`` holds the buckets; node ``index`` at a level
    counts from 0 in token order, and a key goes to the bucket whose token range holds
    :func:`key_token` of the key. Two trees can be compared only when their shapes are
    equal (the hash functions compare with ``==``). Invalid parameters raise
    ``ValueError`` (bad numbers) or ``TypeError`` (wrong types, or a hash function that
    does not return bytes).
    """

    fanout: int = 16
    depth: int = 3
    hash_fn: HashFn = DEFAULT_HASH
    lo: int = 0
    hi: int = TOKEN_SPACE
    _empty: tuple[_Node, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("fanout", "depth", "lo", "hi"):
            if not _is_int(getattr(self, name)):
                raise TypeError(f"Merkle {name} must be an int, got {getattr(self, name)!r}")
        if self.fanout < 2:
            raise ValueError(f"Merkle fanout must be at least 2, got {self.fanout}")
        if self.depth < 1:
            raise ValueError(f"Merkle depth must be at least 1, got {self.depth}")
        if not callable(self.hash_fn):
            raise TypeError(f"Merkle hash_fn must be callable bytes -> bytes, got {self.hash_fn!r}")
        if not 0 <= self.lo < self.hi <= TOKEN_SPACE:
            raise ValueError(
                f"Merkle token range must satisfy 0 <= lo < hi <= 2**64, got [{self.lo}, {self.hi})"
            )
        if self.hi - self.lo < self.leaves:
            raise ValueError(
                f"Merkle token range [{self.lo}, {self.hi}) holds {self.hi - self.lo} tokens, "
                f"fewer than the {self.leaves} buckets of fanout {self.fanout} depth {self.depth}"
            )
        empty: list[_Node] = [_hash_leaf(self.hash_fn, ())]
        for _ in range(self.depth):
            empty.append(_hash_inner(self.hash_fn, (empty[-1],) * self.fanout))
        empty.reverse()
        object.__setattr__(self, "_empty", tuple(empty))

    @property
    def leaves(self) -> int:
        """The number of leaf buckets, ``fanout ** depth``."""
        return int(self.fanout**self.depth)

    def nodes_at(self, level: int) -> int:
        """How many nodes level ``level`` has (``fanout ** level``)."""
        self._check_level(level)
        return int(self.fanout**level)

    def empty_hash(self, level: int) -> bytes:
        """The hash of a node at ``level`` whose subtree holds no keys (the same for
        every such node; at ``level == depth`` it is the fixed empty-bucket hash)."""
        self._check_level(level)
        return self._empty[level].digest

    def leaf_index(self, token: int) -> int:
        """The bucket that holds keys with this token; ``ValueError`` outside ``[lo, hi)``."""
        if not self.lo <= token < self.hi:
            raise ValueError(f"token {token} is outside this tree's range [{self.lo}, {self.hi})")
        return ((token - self.lo) * self.leaves) // (self.hi - self.lo)

    def leaf_of(self, key: Key) -> int:
        """The bucket that holds ``key``; ``ValueError`` if the key's token is outside
        the tree's range."""
        return self.leaf_index(key_token(key))

    def node_range(self, level: int, index: int) -> TokenRange:
        """The tokens covered by node ``index`` at ``level``; the nodes of one level
        partition ``[lo, hi)`` into contiguous ranges in index order."""
        self._check_node(level, index)
        width = self.fanout ** (self.depth - level)
        return TokenRange(self._boundary(index * width), self._boundary((index + 1) * width))

    def path(self, leaf: int) -> tuple[int, ...]:
        """The child positions (each in ``range(fanout)``) leading from the root to
        bucket ``leaf``; its length is ``depth``."""
        self._check_node(self.depth, leaf)
        digits = []
        for _ in range(self.depth):
            leaf, digit = divmod(leaf, self.fanout)
            digits.append(digit)
        return tuple(reversed(digits))

    def _boundary(self, leaf: int) -> int:
        span = self.hi - self.lo
        return self.lo + -(-leaf * span // self.leaves)

    def _check_level(self, level: int) -> None:
        if not _is_int(level) or not 0 <= level <= self.depth:
            raise ValueError(f"level must be an int from 0 to {self.depth}, got {level!r}")

    def _check_node(self, level: int, index: int) -> None:
        self._check_level(level)
        count = self.fanout**level
        if not _is_int(index) or not 0 <= index < count:
            raise ValueError(
                f"node index at level {level} must be an int from 0 to {count - 1}, got {index!r}"
            )

    def _describe(self) -> str:
        return (
            f"fanout={self.fanout}, depth={self.depth}, hash_fn={self.hash_fn!r}, "
            f"range=[{self.lo}, {self.hi})"
        )


DEFAULT_SHAPE: Final = MerkleShape()
"""Fan-out 16, depth 3 (4096 buckets), BLAKE2b-256, the whole token space."""


# --------------------------------------------------------------------------- tree


def _value_hash(hash_fn: HashFn, value: object) -> bytes:
    return _check_digest(hash_fn(_VALUE_TAG + encode_value(value)), hash_fn)


def _pairs(
    items: Mapping[_K, object] | Iterable[tuple[_K, object]],
) -> Iterable[tuple[_K, object]]:
    if isinstance(items, Mapping):
        return items.items()
    return items


@dataclass(frozen=True, eq=False)
class MerkleTree:
    """An immutable Merkle tree of a key -> value mapping over one token range.

    Make one with :meth:`empty` or :meth:`build`, change it with :meth:`with_put` and
    :meth:`with_delete` (each returns a new tree sharing untouched subtrees). The tree
    keeps each key and the hash of its value, not the value itself. Two trees are
    ``==`` when their shapes are equal and they hold the same keys with the same value
    hashes; the root does not depend on the order in which keys were added.

    ``nodes_rehashed`` counts the node hashes (buckets and inner nodes, not value
    hashes) computed to derive this tree from the one it was made from: at most
    ``depth + 1`` for an update, 0 when the update changed nothing, and the number of
    non-empty nodes for :meth:`build`. It takes no part in equality.
    """

    shape: MerkleShape
    _root: _Node = field(repr=False)
    _size: int
    nodes_rehashed: int = 0

    # ---- construction

    @classmethod
    def empty(cls, shape: MerkleShape = DEFAULT_SHAPE) -> MerkleTree:
        """The tree of the empty mapping; its root is ``shape.empty_hash(0)``."""
        return cls(shape, shape._empty[0], 0, 0)

    @classmethod
    def build(
        cls,
        items: Mapping[_K, object] | Iterable[tuple[_K, object]],
        shape: MerkleShape = DEFAULT_SHAPE,
    ) -> MerkleTree:
        """The tree of a mapping, or of (key, value) pairs where a later pair for the
        same key wins. Raises ``ValueError`` if a key lies outside the shape's range,
        and what :func:`encode_key` / :func:`encode_value` raise for bad keys or values.
        """
        hash_fn = shape.hash_fn
        buckets: dict[int, dict[bytes, _Entry]] = {}
        for key, value in _pairs(items):
            encoded = encode_key(key)
            leaf = _leaf_for(shape, key, encoded)
            buckets.setdefault(leaf, {})[encoded] = _Entry(
                encoded, key, _value_hash(hash_fn, value)
            )
        rehashed = 0
        size = 0
        level_nodes: dict[int, _Node] = {}
        for leaf, bucket in buckets.items():
            entries = tuple(bucket[k] for k in sorted(bucket))
            size += len(entries)
            level_nodes[leaf] = _hash_leaf(hash_fn, entries)
            rehashed += 1
        for level in range(shape.depth - 1, -1, -1):
            empty_child = shape._empty[level + 1]
            parents = sorted({index // shape.fanout for index in level_nodes})
            upper: dict[int, _Node] = {}
            for parent in parents:
                first = parent * shape.fanout
                children = tuple(
                    level_nodes.get(first + j, empty_child) for j in range(shape.fanout)
                )
                upper[parent] = _hash_inner(hash_fn, children)
                rehashed += 1
            level_nodes = upper
        root = level_nodes.get(0, shape._empty[0])
        return cls(shape, root, size, rehashed)

    # ---- reading

    @property
    def root(self) -> bytes:
        """The root hash: a function of the shape and the mapping only."""
        return self._root.digest

    def __len__(self) -> int:
        """The number of keys."""
        return self._size

    def __contains__(self, key: object) -> bool:
        """True when ``key`` (a key of the documented kinds) is in the tree."""
        try:
            encoded = encode_key(key)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return self._find(encoded) is not None

    def value_hash(self, key: Key) -> bytes | None:
        """The hash of the value stored under ``key``, ``hash_fn(b"\\x00" +
        encode_value(value))``, or ``None`` when the key is absent."""
        entry = self._find(encode_key(key))
        return None if entry is None else entry.value_hash

    def keys(self) -> Iterator[Key]:
        """Every key, in bucket order and by encoded key within a bucket."""
        for _, leaf in self._walk_leaves():
            for entry in leaf.entries:
                yield entry.key

    def node(self, level: int, index: int) -> bytes:
        """The hash of node ``index`` at ``level`` (``node(0, 0)`` is the root; level
        ``depth`` holds the buckets). It depends only on the keys and values whose
        tokens lie in ``shape.node_range(level, index)``."""
        return self._node(level, index).digest

    def children(self, level: int, index: int) -> tuple[bytes, ...]:
        """The hashes of the ``fanout`` children of node ``index`` at ``level``, in order
        (child ``j`` is node ``index * fanout + j`` at ``level + 1``); the empty tuple
        for a bucket."""
        node = self._node(level, index)
        if isinstance(node, _Leaf):
            return ()
        return tuple(child.digest for child in node.children)

    def level_hashes(self, level: int) -> tuple[bytes, ...]:
        """The hashes of every node at ``level``, in index order
        (``fanout ** level`` of them)."""
        self.shape._check_level(level)
        nodes: list[_Node] = [self._root]
        for _ in range(level):
            nodes = [child for node in nodes for child in _inner(node).children]
        return tuple(node.digest for node in nodes)

    def bucket(self, index: int) -> tuple[tuple[Key, bytes], ...]:
        """The (key, value hash) entries of bucket ``index``, ordered by encoded key."""
        leaf = self._node(self.shape.depth, index)
        assert isinstance(leaf, _Leaf)
        return tuple((entry.key, entry.value_hash) for entry in leaf.entries)

    # ---- updating

    def with_put(self, key: Key, value: object) -> MerkleTree:
        """This tree with ``key`` mapped to ``value`` (added or replaced). Recomputes
        exactly ``depth + 1`` node hashes, or none when the key already had a value
        with the same hash. ``ValueError`` if the key lies outside the tree's range."""
        encoded = encode_key(key)
        leaf_index = _leaf_for(self.shape, key, encoded)
        new_entry = _Entry(encoded, key, _value_hash(self.shape.hash_fn, value))
        return self._update(leaf_index, encoded, new_entry)

    def with_delete(self, key: Key) -> MerkleTree:
        """This tree without ``key``. Recomputes at most ``depth + 1`` node hashes (a
        subtree left empty takes the shared empty node), none when the key was absent."""
        encoded = encode_key(key)
        token = _token_of_encoded(encoded)
        if token not in TokenRange(self.shape.lo, self.shape.hi):
            return replace(self, nodes_rehashed=0)
        return self._update(self.shape.leaf_index(token), encoded, None)

    def _update(self, leaf_index: int, encoded: bytes, new_entry: _Entry | None) -> MerkleTree:
        shape = self.shape
        path = shape.path(leaf_index)
        ancestors: list[_Inner] = []
        node = self._root
        for digit in path:
            inner = _inner(node)
            ancestors.append(inner)
            node = inner.children[digit]
        assert isinstance(node, _Leaf)
        entries = node.entries
        position = bisect_left([entry.encoded_key for entry in entries], encoded)
        present = position < len(entries) and entries[position].encoded_key == encoded
        size = self._size
        if new_entry is None:
            if not present:
                return replace(self, nodes_rehashed=0)
            new_entries = entries[:position] + entries[position + 1 :]
            size -= 1
        elif present:
            if entries[position] == new_entry:
                return replace(self, nodes_rehashed=0)
            new_entries = (*entries[:position], new_entry, *entries[position + 1 :])
        else:
            new_entries = (*entries[:position], new_entry, *entries[position:])
            size += 1
        rehashed = 0
        new_node: _Node
        if new_entries:
            new_node = _hash_leaf(shape.hash_fn, new_entries)
            rehashed += 1
        else:
            new_node = shape._empty[shape.depth]
        for level in range(shape.depth - 1, -1, -1):
            parent = ancestors[level]
            digit = path[level]
            children = (*parent.children[:digit], new_node, *parent.children[digit + 1 :])
            empty_child = shape._empty[level + 1]
            if all(child is empty_child for child in children):
                new_node = shape._empty[level]
            else:
                new_node = _hash_inner(shape.hash_fn, children)
                rehashed += 1
        return MerkleTree(shape, new_node, size, rehashed)

    # ---- internals

    def _node(self, level: int, index: int) -> _Node:
        self.shape._check_node(level, index)
        node = self._root
        width = self.shape.fanout**level
        for _ in range(level):
            width //= self.shape.fanout
            node = _inner(node).children[(index // width) % self.shape.fanout]
        return node

    def _find(self, encoded: bytes) -> _Entry | None:
        token = _token_of_encoded(encoded)
        if token not in TokenRange(self.shape.lo, self.shape.hi):
            return None
        leaf = self._node(self.shape.depth, self.shape.leaf_index(token))
        assert isinstance(leaf, _Leaf)
        entries = leaf.entries
        position = bisect_left([entry.encoded_key for entry in entries], encoded)
        if position < len(entries) and entries[position].encoded_key == encoded:
            return entries[position]
        return None

    def _walk_leaves(self) -> Iterator[tuple[int, _Leaf]]:
        """(bucket index, bucket) for every non-empty bucket, in index order."""
        shape = self.shape
        stack: list[tuple[_Node, int, int]] = [(self._root, 0, 0)]
        while stack:
            node, level, index = stack.pop()
            if node is shape._empty[level]:
                continue
            if isinstance(node, _Leaf):
                yield index, node
                continue
            for j in range(shape.fanout - 1, -1, -1):
                stack.append((node.children[j], level + 1, index * shape.fanout + j))

    def __eq__(self, other: object) -> bool:
        """Equal shapes, and the same keys with the same value hashes."""
        if not isinstance(other, MerkleTree):
            return NotImplemented
        return self.shape == other.shape and self._root == other._root

    def __hash__(self) -> int:
        """Consistent with ``==``."""
        return hash((self.shape, self._root.digest))

    def __repr__(self) -> str:
        return f"MerkleTree({self.shape._describe()}, keys={self._size}, root={self.root.hex()})"


def _inner(node: _Node) -> _Inner:
    assert isinstance(node, _Inner)
    return node


def _leaf_for(shape: MerkleShape, key: Key, encoded: bytes) -> int:
    token = _token_of_encoded(encoded)
    if not shape.lo <= token < shape.hi:
        raise ValueError(
            f"key {key!r} has token {token}, outside this tree's range [{shape.lo}, {shape.hi})"
        )
    return shape.leaf_index(token)


def merkle_root(
    items: Mapping[_K, object] | Iterable[tuple[_K, object]],
    shape: MerkleShape = DEFAULT_SHAPE,
) -> bytes:
    """The root hash of a mapping (or of pairs, a later pair winning): independent of
    insertion order; with a collision-free hash, equal exactly when mappings are equal."""
    return MerkleTree.build(items, shape).root


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True)
class MerkleDiff:
    """What :func:`diff` found between trees ``a`` ("here") and ``b`` ("there").

    ``missing_here``: keys in ``b`` but not ``a``; ``missing_there``: keys in ``a`` but
    not ``b``; ``different``: keys in both whose value hashes differ. With a
    collision-free hash these are exactly the keys on which the mappings differ.
    ``hashes_compared`` counts node-hash comparisons (1 when the roots are equal);
    ``differing_buckets`` lists, in order, the buckets whose hashes differed;
    ``entries_compared`` counts the bucket entries (of both trees) read in those
    buckets.
    """

    missing_here: frozenset[Key]
    missing_there: frozenset[Key]
    different: frozenset[Key]
    hashes_compared: int
    differing_buckets: tuple[int, ...] = ()
    entries_compared: int = 0

    @property
    def keys(self) -> frozenset[Key]:
        """Every key the diff reports, of all three kinds."""
        return self.missing_here | self.missing_there | self.different

    @property
    def empty(self) -> bool:
        """True when the diff reports no key."""
        return not (self.missing_here or self.missing_there or self.different)


def _require_same_shape(a: MerkleShape, b: MerkleShape) -> None:
    if a == b:
        return
    differences = [
        f"{name} {getattr(a, name)!r} vs {getattr(b, name)!r}"
        for name in ("fanout", "depth", "hash_fn", "lo", "hi")
        if getattr(a, name) != getattr(b, name)
    ]
    raise ValueError("cannot diff Merkle trees of different shapes: " + "; ".join(differences))


def diff(a: MerkleTree, b: MerkleTree) -> MerkleDiff:
    """The keys on which ``a`` and ``b`` differ, found top-down: compare the roots,
    and below a differing node compare every child pair, entering only children whose
    hashes differ; in a differing bucket compare the entries.

    With a collision-free hash the result is exact. With a colliding hash it can miss
    keys: a subtree (or value) whose hashes collide is taken as equal and never
    entered. Trees of different shapes (fanout, depth, hash function or token range)
    raise ``ValueError`` naming the differences.
    """
    _require_same_shape(a.shape, b.shape)
    compared = 1
    if a._root.digest == b._root.digest:
        return MerkleDiff(frozenset(), frozenset(), frozenset(), compared)
    fanout = a.shape.fanout
    missing_here: set[Key] = set()
    missing_there: set[Key] = set()
    different: set[Key] = set()
    buckets: list[int] = []
    entries_read = 0
    stack: list[tuple[_Node, _Node, int]] = [(a._root, b._root, 0)]
    while stack:
        node_a, node_b, index = stack.pop()
        if isinstance(node_a, _Leaf) and isinstance(node_b, _Leaf):
            buckets.append(index)
            entries_read += len(node_a.entries) + len(node_b.entries)
            _diff_entries(node_a.entries, node_b.entries, missing_here, missing_there, different)
            continue
        inner_a, inner_b = _inner(node_a), _inner(node_b)
        for j in range(fanout):
            child_a, child_b = inner_a.children[j], inner_b.children[j]
            compared += 1
            if child_a.digest != child_b.digest:
                stack.append((child_a, child_b, index * fanout + j))
    return MerkleDiff(
        frozenset(missing_here),
        frozenset(missing_there),
        frozenset(different),
        compared,
        tuple(sorted(buckets)),
        entries_read,
    )


def _diff_entries(
    here: Sequence[_Entry],
    there: Sequence[_Entry],
    missing_here: set[Key],
    missing_there: set[Key],
    different: set[Key],
) -> None:
    i = j = 0
    while i < len(here) and j < len(there):
        x, y = here[i], there[j]
        if x.encoded_key == y.encoded_key:
            if x.value_hash != y.value_hash:
                different.add(x.key)
            i += 1
            j += 1
        elif x.encoded_key < y.encoded_key:
            missing_there.add(x.key)
            i += 1
        else:
            missing_here.add(y.key)
            j += 1
    missing_there.update(entry.key for entry in here[i:])
    missing_here.update(entry.key for entry in there[j:])
