# SPDX-License-Identifier: MIT
"""Frames and values of PROTOCOL.md sections 2 to 4; no I/O.

Requests are checked against the limits before they are encoded, so that a request the broker
would refuse is never sent. Replies are walked byte by byte with a bounded validator (types,
declared counts against the bytes left, nesting depth, entries, string sizes, NUL bytes)
before msgpack decodes them, so that a hostile frame cannot make the decoder reserve memory
for entries it does not hold.
"""

from __future__ import annotations

import struct
from typing import Any, Dict, List, Tuple, Union

import msgpack

from . import limits
from .errors import invalid, protocol, too_large

Value = Union[None, bool, int, float, str, List["Value"], Dict[str, "Value"]]
"""A value of PROTOCOL.md section 4: nil, bool, integer, float, str, array or map."""

HEADER = struct.Struct(">I")


# ---- requests --------------------------------------------------------------------------------

def _check_value(v: object, depth: int, path: str) -> None:
    if v is None or isinstance(v, (bool, float)):
        return
    if isinstance(v, int):
        if not -(2**63) <= v <= 2**64 - 1:
            raise invalid(f"{path}: the integer does not fit in 64 bits")
        return
    if isinstance(v, str):
        check_str(v, path, limits.MAX_STRING)
        return
    if isinstance(v, (list, tuple, dict)):
        if depth + 1 > limits.MAX_DEPTH:
            raise too_large(f"{path}: nested deeper than {limits.MAX_DEPTH} levels")
        if len(v) > limits.MAX_CONTAINER:
            raise too_large(f"{path}: {len(v)} entries, more than {limits.MAX_CONTAINER}")
        if isinstance(v, dict):
            for k, item in v.items():
                if not isinstance(k, str):
                    raise invalid(f"{path}: a map key is not a str")
                check_str(k, f"{path} key", limits.MAX_STRING)
                _check_value(item, depth + 1, f"{path}.{k}")
        else:
            for i, item in enumerate(v):
                _check_value(item, depth + 1, f"{path}[{i}]")
        return
    raise invalid(f"{path}: a {type(v).__name__} is not a protocol value "
                  "(use None, bool, int, float, str, list or dict)")


def check_str(s: str, path: str, max_len: int) -> int:
    """Checks that s is valid UTF-8 without NUL and at most max_len bytes; returns its size."""
    try:
        size = len(s.encode("utf-8"))
    except UnicodeEncodeError:
        raise invalid(f"{path}: not valid UTF-8 (a lone surrogate)") from None
    if "\x00" in s:
        raise invalid(f"{path}: contains a NUL character")
    if size > max_len:
        raise too_large(f"{path}: {size} bytes, more than {max_len}")
    return size


def encode_request(msg: Dict[str, Any], max_frame: int) -> bytes:
    """The frame of request msg (a map whose values are protocol values), checked against
    section 3's limits and the request frame cap max_frame. Raises SkybrokerError
    (invalid_argument or too_large) before anything is sent."""
    _check_value(msg, 0, str(msg.get("op", "request")))
    payload: bytes = msgpack.packb(msg, use_bin_type=True)
    if len(payload) > max_frame:
        raise too_large(f"the {msg.get('op')} request is {len(payload)} bytes, over the "
                        f"broker's request frame cap of {max_frame}")
    return HEADER.pack(len(payload)) + payload


# ---- replies ---------------------------------------------------------------------------------

_FIXED = {0xc0: 0, 0xc2: 0, 0xc3: 0, 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8,
          0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8}
_STR = {0xd9: 1, 0xda: 2, 0xdb: 4}
_ARRAY = {0xdc: 2, 0xdd: 4}
_MAP = {0xde: 2, 0xdf: 4}
_FORBIDDEN = {0xc1: "the never-used byte 0xc1", 0xc4: "bin", 0xc5: "bin", 0xc6: "bin",
              0xc7: "ext", 0xc8: "ext", 0xc9: "ext", 0xd4: "ext", 0xd5: "ext", 0xd6: "ext",
              0xd7: "ext", 0xd8: "ext"}


def _count(data: bytes, pos: int, width: int) -> int:
    return int.from_bytes(data[pos:pos + width], "big")


def validate_payload(data: bytes) -> None:
    """Walks the one msgpack object data must hold, a map, without building it. Raises
    SkybrokerError(protocol) naming what is wrong and at which byte."""
    n = len(data)
    pos = 0
    # Per open container: [entries left to read, whether it is a map]; the first is a virtual
    # root holding the one top-level object, so a real container's depth is its index.
    stack: List[List[Any]] = [[1, False]]
    while True:
        while stack and stack[-1][0] == 0:
            stack.pop()
        if not stack:
            if pos != n:
                raise protocol(f"malformed reply: {n - pos} trailing bytes at byte {pos}")
            return
        top = stack[-1]
        is_key = top[1] and top[0] % 2 == 0
        top[0] -= 1
        if pos >= n:
            raise protocol(f"malformed reply: truncated at byte {pos}")
        b = data[pos]
        at = pos
        pos += 1
        if is_key and not (0xa0 <= b <= 0xbf or b in _STR):
            raise protocol(f"malformed reply: a map key that is not a str at byte {at}")
        if len(stack) == 1 and not (0x80 <= b <= 0x8f or b in _MAP):
            raise protocol("malformed reply: the payload is not a map")
        if b <= 0x7f or b >= 0xe0:
            continue
        if b in _FIXED:
            pos += _FIXED[b]
            if pos > n:
                raise protocol(f"malformed reply: truncated at byte {at}")
            continue
        if b in _FORBIDDEN:
            raise protocol(f"malformed reply: {_FORBIDDEN[b]} at byte {at}, which the "
                           "protocol does not allow")
        if 0xa0 <= b <= 0xbf or b in _STR:
            pos = _skip_str(data, b, pos, at)
            continue
        count, is_map, pos = _container(data, b, pos, at)
        items = count * 2 if is_map else count
        if items > n - pos:
            raise protocol(f"malformed reply: {count} entries declared at byte {at}, more "
                           "than the bytes left")
        if len(stack) > limits.MAX_DEPTH:
            raise protocol(f"reply too large: nested deeper than {limits.MAX_DEPTH} levels "
                           f"at byte {at}")
        stack.append([items, is_map])


def _skip_str(data: bytes, b: int, pos: int, at: int) -> int:
    n = len(data)
    if b in _STR:
        w = _STR[b]
        if pos + w > n:
            raise protocol(f"malformed reply: truncated at byte {at}")
        size = _count(data, pos, w)
        pos += w
    else:
        size = b & 0x1f
    if size > limits.MAX_STRING:
        raise protocol(f"reply too large: a string of {size} bytes at byte {at}")
    if pos + size > n:
        raise protocol(f"malformed reply: a string longer than the frame at byte {at}")
    if data.find(b"\x00", pos, pos + size) >= 0:
        raise protocol(f"malformed reply: a NUL byte in the string at byte {at}")
    return pos + size


def _container(data: bytes, b: int, pos: int, at: int) -> Tuple[int, bool, int]:
    """(entries, is a map, position after the header) of the array or map header b."""
    if 0x80 <= b <= 0x8f:
        count, is_map = b & 0x0f, True
    elif 0x90 <= b <= 0x9f:
        count, is_map = b & 0x0f, False
    else:
        is_map = b in _MAP
        w = _MAP[b] if is_map else _ARRAY[b]
        if pos + w > len(data):
            raise protocol(f"malformed reply: truncated at byte {at}")
        count = _count(data, pos, w)
        pos += w
    if count > limits.MAX_CONTAINER:
        raise protocol(f"reply too large: {count} entries at byte {at}, more than "
                       f"{limits.MAX_CONTAINER}")
    return count, is_map, pos


class Map(Dict[str, Any]):
    """A decoded map; duplicates holds the keys that appeared more than once."""

    duplicates: frozenset[str] = frozenset()


def _pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    m = Map(pairs)
    if len(m) != len(pairs):
        seen: set[str] = set()
        dups: set[str] = set()
        for k, _ in pairs:
            (dups if k in seen else seen).add(k)
        m.duplicates = frozenset(dups)
    return m


def decode_payload(data: bytes) -> Dict[str, Any]:
    """The map of a reply payload, validated first (validate_payload). Raises
    SkybrokerError(protocol)."""
    validate_payload(data)
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True, object_pairs_hook=_pairs,
                              max_str_len=limits.MAX_STRING, max_bin_len=0, max_ext_len=0,
                              max_array_len=limits.MAX_CONTAINER,
                              max_map_len=limits.MAX_CONTAINER)
    except UnicodeDecodeError as e:
        raise protocol(f"malformed reply: a string that is not valid UTF-8 near byte "
                       f"{e.start}") from None
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise protocol(f"malformed reply: {e}") from None
    if not isinstance(obj, dict):
        raise protocol("malformed reply: the payload is not a map")
    return obj


def frame_length(header: bytes, max_frame: int) -> int:
    """The payload length of a reply frame header, checked against the reply cap before any
    of the payload is read. Raises SkybrokerError(protocol)."""
    length: int = HEADER.unpack(header)[0]
    if length == 0:
        raise protocol("malformed reply: a frame of length 0")
    if length > max_frame:
        raise protocol(f"reply frame of {length} bytes refused: over the reply cap of "
                       f"{max_frame} bytes")
    return length
