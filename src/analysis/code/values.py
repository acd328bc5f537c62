"""A closed encoding of Python values as JSON, for results that cross the sandbox wall.

A program's outputs come back from the sandbox as text and are rebuilt in the parent. Pickle
would run code from the program on unpickling, and its objects could define ``__eq__`` to match
anything; this encoding only knows plain data (``None``, ``bool``, ``int``, ``float``,
``complex``, ``str``, ``bytes``, ``list``, ``tuple``, ``set``, ``frozenset``, ``dict``). Numbers
of other types that register as such (NumPy scalars) become ``int``/``float``/``bool``; any other
object becomes an ``Opaque`` marker that equals nothing, so it can never pass a test.

A large output crosses as a ``Digest``: the SHA-256 of canonical bytes that depend on its
encoding only (``digest_value``), so equal values give equal digests whatever objects hold them.
Lists and tuples are hashed slice by slice, with flat numbers, strings and rows of them in bulk:
HumanEval+ and MBPP+ have outputs of a million numbers or of 128 million strings.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import operator
import struct
import sys
from array import array
from itertools import chain, repeat
from typing import Any

MAX_DEPTH = 200
DIGEST_SLICE = 1024  # items of a list or tuple hashed together (digest_value)
_COUNT = struct.Struct("<q")


class Opaque:
    """Stands for an output that cannot cross the wall (its type name is kept for messages)."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<unencodable {self.type_name}>"


_PLAIN = (str, bool, type(None))
_SCALARS = {int, float, str, bool, type(None)}


def _plain(items: list[Any], *, _type: Any = type) -> bool:
    """Every item is a value JSON keeps exactly as it is (a fast path for long lists)."""
    for v in items:
        t = _type(v)
        if t is int:
            if not -(2**53) < v < 2**53:
                return False
        elif t is float:
            if v != v or v in (float("inf"), float("-inf")):
                return False
        elif t not in _PLAIN:
            return False
    return True


def encode(value: Any, depth: int = 0, *, _type: Any = type, _isinstance: Any = isinstance) -> Any:
    """``value`` as a JSON-ready structure (builtins bound at definition, so a program that
    replaces ``builtins.isinstance`` does not change how its outputs are encoded)."""
    if depth > MAX_DEPTH:
        msg = "nested too deeply"
        raise ValueError(msg)
    t = _type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        # hex: Python limits int -> decimal string conversion to 4300 digits
        return value if -(2**53) < value < 2**53 else {"i": hex(value)}
    if t is float:
        return value if value == value and value not in (float("inf"), float("-inf")) else {"x": repr(value)}
    if t is list:
        if _plain(value):
            return {"l": value}
        return {"l": [encode(v, depth + 1) for v in value]}
    if t is tuple:
        if _plain(value):
            return {"t": list(value)}
        return {"t": [encode(v, depth + 1) for v in value]}
    if t is set or t is frozenset:  # sorted, so that equal sets encode (and hash) alike
        items = sorted((encode(v, depth + 1) for v in value), key=_sort_key)
        return {"s" if t is set else "f": items}
    if t is dict:
        pairs = sorted(([encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()), key=_sort_key)
        return {"d": pairs}
    if t is complex:
        return {"c": [encode(value.real), encode(value.imag)]}
    if t is bytes:
        return {"b": value.hex()}
    # subclasses and foreign numbers (NumPy scalars) as the plain number they stand for
    if _isinstance(value, bool) or (hasattr(value, "dtype") and str(getattr(value, "dtype", "")) == "bool"):
        return bool(value)
    if _isinstance(value, numbers.Integral):
        return encode(int(value), depth)
    if _isinstance(value, numbers.Real):
        return encode(float(value), depth)
    # subclasses of the plain containers (Counter, OrderedDict, defaultdict, namedtuple) as their
    # base: they compare equal to it, as EvalPlus's ``==`` would find
    for base in (str, dict, list, tuple, set, frozenset):
        if _isinstance(value, base):
            return encode(base(value) if base is not str else str.__str__(value), depth)
    return {"o": t.__name__ if _isinstance(getattr(t, "__name__", None), str) else "object"}


def decode(data: Any, depth: int = 0) -> Any:
    """The value ``encode`` described (``Opaque`` for what it could not)."""
    if depth > MAX_DEPTH:
        return Opaque("too deep")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, dict) and len(data) == 1:
        ((tag, body),) = data.items()
        try:
            if tag == "i":
                return int(body, 16)
            if tag == "x":
                return float(body)
            if tag == "l":
                if _decoded_plain(body):
                    return body
                return [decode(v, depth + 1) for v in body]
            if tag == "t":
                return tuple(decode(v, depth + 1) for v in body)
            if tag in ("s", "f"):
                items = [decode(v, depth + 1) for v in body]
                return set(items) if tag == "s" else frozenset(items)
            if tag == "d":
                return {decode(k, depth + 1): decode(v, depth + 1) for k, v in body}
            if tag == "c":
                return complex(decode(body[0]), decode(body[1]))
            if tag == "b":
                return bytes.fromhex(body)
            if tag == "o":
                return Opaque(str(body))
        except (TypeError, ValueError):
            return Opaque("malformed")
    return Opaque("malformed")


def _sort_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


def _canonical(enc: Any) -> bytes:
    return json.dumps(enc, sort_keys=True, separators=(",", ":")).encode()


def _flat_bytes(items: list[Any] | tuple[Any, ...]) -> bytes | None:
    """Canonical bytes of a run of scalars of the kinds that have a bulk encoding (``None`` for
    others): ints and finite floats as machine numbers where that is exact, strings joined by a
    separator none of them holds (as ``encode`` does, a ``str`` subclass counts as its text). The
    tag and the count make it self-delimiting."""
    head = _COUNT.pack(len(items))
    if items and type(items[0]) is str:
        try:
            joined = "\x00".join(items)
        except TypeError:
            return None
        if joined.count("\x00") != len(items) - 1:  # a string holds the separator
            return None
        return b"Z" + head + joined.encode("utf-8", "surrogatepass")
    types = list(map(type, items))
    kinds = set(types)
    if kinds == {int} and min(items) > -(2**53) and max(items) < 2**53:
        return b"I" + head + _machine("q", items)
    if kinds == {float} and all(map(math.isfinite, items)):
        return b"F" + head + _machine("d", items)
    if kinds == {int, float} and all(map(math.isfinite, items)) and max(map(abs, items)) < 2**53:
        return b"M" + head + bytes(map(operator.is_, types, repeat(float))) + _machine("d", items)
    return None


def _rows_bytes(rows: list[Any] | tuple[Any, ...], tuples: bool) -> bytes | None:
    """Canonical bytes of rows (all tuples, or all lists) of scalars that ``encode`` keeps as they
    are (``None`` for other rows): their lengths, then their cells as ``_flat_bytes`` or as JSON."""
    cells = list(chain.from_iterable(rows))
    inner = _flat_bytes(cells)
    if inner is not None:
        return (b"U" if tuples else b"R") + _COUNT.pack(len(rows)) + _machine("q", list(map(len, rows))) + inner
    if _plain(cells):  # mixed scalars: JSON keeps each one's type
        return (b"u" if tuples else b"r") + json.dumps(rows, separators=(",", ":")).encode()
    return None


def _slice_bytes(part: list[Any] | tuple[Any, ...]) -> bytes:
    """Canonical bytes of one slice of a list or tuple, a function of the items' encodings
    (``encode``) only: flat numbers or strings (``_flat_bytes``) and rows of scalars
    (``_rows_bytes``) in bulk, anything else as the JSON of its encoding.

    Items of exact types take a shortcut that never builds the encoding, in C loops (the JSON of a
    million floats, or of MBPP+'s 1.7 million tuples of 77 strings, took seconds to tens of
    seconds, and a run's deadline counts that time); other items (subclasses such as namedtuples,
    NumPy numbers) are encoded first, which gives the bytes their plain equivalent has."""
    fast = _exact_slice_bytes(part)
    if fast is not None:
        return fast
    enc = [encode(v, 1) for v in part]
    if _plain(enc):
        flat = _flat_bytes(enc)
        if flat is not None:
            return b"1" + flat
    elif all(type(e) is dict and len(e) == 1 for e in enc):
        tags = {next(iter(e)) for e in enc}
        if tags in ({"t"}, {"l"}):
            (tag,) = tags
            rows = _rows_bytes([e[tag] for e in enc], tag == "t")
            if rows is not None:
                return rows
    return b"J" + _canonical(enc)


def _exact_slice_bytes(part: list[Any] | tuple[Any, ...]) -> bytes | None:
    """``_slice_bytes`` of a slice of exact scalars, or of exact tuple or list rows, without
    encoding it (``None`` where that takes the encoding)."""
    try:
        kinds = set(map(type, part))
        if kinds <= _SCALARS:
            flat = _flat_bytes(part)
            return None if flat is None else b"1" + flat
        if kinds == {tuple} or kinds == {list}:
            return _rows_bytes(part, tuple in kinds)
    except (OverflowError, ValueError, TypeError):
        pass
    return None


def _machine(code: str, items: list[Any] | tuple[Any, ...]) -> bytes:
    a = array(code, items)
    if sys.byteorder != "little":  # the same bytes on every machine
        a.byteswap()
    return a.tobytes()


def digest_value(value: Any) -> str:
    """The SHA-256 standing for a large value (equal values give equal digests).

    A list or tuple is hashed in slices of ``DIGEST_SLICE`` items (``_slice_bytes``, each with
    its length in front), so a huge output (MBPP+ has outputs of over a million tuples) is never
    encoded whole: memory stays at one slice's encoding.
    """
    t = type(value)
    if isinstance(value, str):  # as in ``encode``, a subclass stands for its text
        return hashlib.sha256(b"S" + str.encode(value, "utf-8", "surrogatepass")).hexdigest()
    if t is not list and t is not tuple and isinstance(value, (list, tuple)):  # namedtuple, UserList-likes
        value = list(value) if isinstance(value, list) else tuple(value)
        t = type(value)
    if t is list or t is tuple:
        h = hashlib.sha256(b"L" if t is list else b"T")
        for start in range(0, len(value), DIGEST_SLICE):
            data = _slice_bytes(value[start : start + DIGEST_SLICE])
            h.update(_COUNT.pack(len(data)))
            h.update(data)
        return h.hexdigest()
    return hashlib.sha256(b"V" + _canonical(encode(value))).hexdigest()


class Digest:
    """A large output, sent as the digest of its encoding instead of the value itself.

    Equal to another ``Digest`` with the same hex, or to a value whose encoding hashes to it.
    Tolerance and oracle comparisons cannot look inside it, so a large output must match the
    expected one exactly (EvalPlus's float tolerance is lost on outputs above the threshold).
    """

    __slots__ = ("hex",)

    def __init__(self, hex_digest: str) -> None:
        self.hex = hex_digest

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Digest):
            return self.hex == other.hex
        if isinstance(other, Opaque):
            return False
        try:
            return digest_value(other) == self.hex
        except (ValueError, RecursionError, MemoryError):
            return False

    def __hash__(self) -> int:
        return hash(self.hex)

    def __repr__(self) -> str:
        return f"<large output sha256:{self.hex[:12]}>"


def _decoded_plain(items: Any) -> bool:
    if not isinstance(items, list):
        return False
    return all(type(v) in (int, float, str, bool, type(None)) for v in items)


def short_repr(value: Any, limit: int = 200) -> str:
    """``repr`` cut to ``limit`` characters, for failure messages."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
