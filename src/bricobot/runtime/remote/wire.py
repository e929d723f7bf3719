"""Framing of the remote-policy protocol: a fixed preamble, a JSON header, raw tensor bytes.

One frame on the stream::

    preamble  16 bytes  "<4sHBBII": magic b"BRCB", protocol version, kind, flags (0),
                        header length, payload length (bytes)
    header    JSON object (UTF-8): message fields plus "blobs", one entry per tensor in the
              payload: {"name", "dtype", "shape", "encoding" ("raw" or "jpeg"), "nbytes"}
    payload   the blobs' bytes back to back, in header order

Raw tensors are little-endian, C-ordered, of a small set of dtypes; a JPEG blob's ``shape`` is the
decoded image's (checked when it is decoded). Both lengths are checked against :class:`WireLimits`
before anything is read, so a huge length prefix costs nothing; every header field is
type-checked. Nothing here can execute code from the peer: JSON and ``numpy.frombuffer`` only.
"""

from __future__ import annotations

import json
import math
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bricobot.errors import BricobotError

MAGIC = b"BRCB"
PROTOCOL_VERSION = 1
PREAMBLE = struct.Struct("<4sHBBII")
#: Wire dtype name → little-endian numpy dtype.
DTYPES = {"uint8": "<u1", "float32": "<f4", "float64": "<f8", "int64": "<i8"}
ENCODINGS = ("raw", "jpeg")
#: Most dimensions a tensor may have, and the largest size of one dimension.
MAX_NDIM = 4
MAX_DIM = 1 << 16
MAX_BLOBS = 64


class WireError(BricobotError):
    """A frame broke the protocol (bad magic, version, size, header or tensor); the message says
    which rule, so a fuzzed or foreign stream is refused by name."""


class PeerClosedError(WireError):
    """The peer closed the connection (EOF), possibly in the middle of a frame."""


@dataclass(frozen=True)
class WireLimits:
    """Largest frame parts a peer may send; checked before any byte of them is read."""

    max_header_bytes: int = 64 * 1024
    #: Two raw 1080p RGB frames fit; a JPEG-encoded observation is a few hundred KB at most.
    max_payload_bytes: int = 32 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_header_bytes <= 0 or self.max_payload_bytes <= 0:
            raise ValueError("max_header_bytes and max_payload_bytes must be positive")


@dataclass
class Blob:
    """One tensor of a frame: raw bytes plus the dtype/shape/encoding they claim."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    encoding: str
    data: bytes

    def array(self) -> np.ndarray:
        """The raw tensor as a read-only little-endian array of ``shape`` (raw blobs only)."""
        if self.encoding != "raw":
            raise WireError(f"blob {self.name!r} is {self.encoding}, not raw")
        return np.frombuffer(self.data, dtype=DTYPES[self.dtype]).reshape(self.shape)


@dataclass
class Frame:
    """A decoded frame: its kind, its header fields (without ``blobs``) and its tensors by name."""

    kind: int
    header: dict[str, Any]
    blobs: dict[str, Blob] = field(default_factory=dict)


def raw_blob(name: str, array: np.ndarray) -> Blob:
    """A raw blob of ``array`` (converted to little-endian, C order)."""
    array = np.asarray(array)
    dtype = next((k for k, v in DTYPES.items() if np.dtype(v) == array.dtype.newbyteorder("<")), "")
    if not dtype:
        raise WireError(f"tensor {name!r} has dtype {array.dtype}; the wire takes {list(DTYPES)}")
    data = np.ascontiguousarray(array, dtype=DTYPES[dtype]).tobytes()
    return Blob(name, dtype, tuple(int(s) for s in array.shape), "raw", data)


def encode_frame(kind: int, header: dict[str, Any], blobs: Sequence[Blob] = ()) -> bytes:
    """Bytes of one frame: preamble, JSON header (``header`` plus the blob table), payload."""
    table = [
        {
            "name": b.name,
            "dtype": b.dtype,
            "shape": list(b.shape),
            "encoding": b.encoding,
            "nbytes": len(b.data),
        }
        for b in blobs
    ]
    head = json.dumps({**header, "blobs": table}, allow_nan=False).encode()
    payload = b"".join(b.data for b in blobs)
    return PREAMBLE.pack(MAGIC, PROTOCOL_VERSION, kind, 0, len(head), len(payload)) + head + payload


def decode_preamble(data: bytes, limits: WireLimits) -> tuple[int, int, int]:
    """``(kind, header_bytes, payload_bytes)`` of a preamble, refused if it breaks a rule."""
    magic, version, kind, flags, head_n, payload_n = PREAMBLE.unpack(data)
    if magic != MAGIC:
        raise WireError(f"not a bricobot policy frame (magic {magic!r}, expected {MAGIC!r})")
    if version != PROTOCOL_VERSION:
        raise WireError(
            f"protocol version {version}; this bricobot speaks {PROTOCOL_VERSION}: run the same "
            "bricobot version on the robot's machine and the policy server"
        )
    if flags != 0:
        raise WireError(f"unknown frame flags {flags:#x}")
    if not 0 < head_n <= limits.max_header_bytes:
        raise WireError(f"header of {head_n} bytes (limit {limits.max_header_bytes})")
    if payload_n > limits.max_payload_bytes:
        raise WireError(
            f"payload of {payload_n} bytes exceeds the limit of {limits.max_payload_bytes}"
        )
    return kind, head_n, payload_n


def decode_body(kind: int, head: bytes, payload: bytes) -> Frame:
    """Parse the JSON header and cut the payload into the blobs it declares."""
    try:
        header = json.loads(head.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"header is not valid JSON: {str(exc)[:80]}") from None
    if not isinstance(header, dict):
        raise WireError(f"header must be a JSON object, got {type(header).__name__}")
    table = header.pop("blobs", [])
    if not isinstance(table, list) or len(table) > MAX_BLOBS:
        raise WireError(f"'blobs' must be a list of at most {MAX_BLOBS} entries")
    blobs: dict[str, Blob] = {}
    offset = 0
    for entry in table:
        name, dtype, shape, encoding, nbytes = _blob_entry(entry)
        if name in blobs:
            raise WireError(f"blob {name!r} appears twice")
        if offset + nbytes > len(payload):
            raise WireError(f"blob {name!r} runs past the end of the payload")
        blobs[name] = Blob(name, dtype, shape, encoding, payload[offset : offset + nbytes])
        offset += nbytes
    if offset != len(payload):
        raise WireError(f"payload has {len(payload) - offset} bytes no blob declares")
    return Frame(kind, header, blobs)


def _blob_entry(entry: Any) -> tuple[str, str, tuple[int, ...], str, int]:
    """The checked fields of one blob-table entry."""
    if not isinstance(entry, dict):
        raise WireError("a blob entry must be an object")
    name, dtype, encoding = entry.get("name"), entry.get("dtype"), entry.get("encoding")
    shape, nbytes = entry.get("shape"), entry.get("nbytes")
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        raise WireError("a blob needs a name (a string of 1 to 200 characters)")
    if dtype not in DTYPES or encoding not in ENCODINGS:
        raise WireError(f"blob {name!r}: dtype must be in {list(DTYPES)}, encoding in {ENCODINGS}")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(type(s) is int and 0 <= s <= MAX_DIM for s in shape)
    ):
        raise WireError(f"blob {name!r}: shape must be at most {MAX_NDIM} sizes in 0..{MAX_DIM}")
    if type(nbytes) is not int or nbytes < 0:
        raise WireError(f"blob {name!r}: nbytes must be a non-negative integer")
    if encoding == "raw" and nbytes != math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize:
        raise WireError(f"blob {name!r}: {nbytes} bytes do not hold a {dtype} tensor of {shape}")
    return name, dtype, tuple(shape), encoding, nbytes


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Exactly ``n`` bytes from ``sock`` (its timeout applies to each read); EOF is an error."""
    buffer = bytearray(n)
    view = memoryview(buffer)
    got = 0
    while got < n:
        count = sock.recv_into(view[got:], n - got)
        if count == 0:
            raise PeerClosedError(
                "connection closed by the peer" + (f" after {got} of {n} bytes" if got else "")
            )
        got += count
    return bytes(buffer)


def read_frame(sock: socket.socket, limits: WireLimits) -> Frame:
    """Read one frame from ``sock``, checking the limits before reading header and payload."""
    kind, head_n, payload_n = decode_preamble(recv_exact(sock, PREAMBLE.size), limits)
    head = recv_exact(sock, head_n)
    payload = recv_exact(sock, payload_n) if payload_n else b""
    return decode_body(kind, head, payload)


def write_frame(
    sock: socket.socket, kind: int, header: dict[str, Any], blobs: Sequence[Blob] = ()
) -> None:
    sock.sendall(encode_frame(kind, header, blobs))
