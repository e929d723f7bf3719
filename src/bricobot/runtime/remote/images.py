"""Camera frames on the wire: JPEG (small, lossy) or raw uint8 RGB (exact, large).

A JPEG's dimensions are read from its frame header (SOF marker) and compared with the size the
sender declared and the receiver expects *before* it is decoded, so a crafted image cannot make the
decoder allocate more than one expected frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from bricobot.runtime.remote.wire import Blob, WireError, raw_blob

#: Start-of-frame markers (baseline, progressive, lossless…), which carry height and width.
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
IMAGE_ENCODINGS = ("jpeg", "raw")


def encode_image(name: str, rgb: np.ndarray, encoding: str, jpeg_quality: int = 90) -> Blob:
    """A blob of an ``(H, W, 3)`` uint8 RGB frame, as JPEG or raw bytes."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"camera {name!r}: expected uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    if encoding == "raw":
        return raw_blob(name, rgb)
    if encoding != "jpeg":
        raise ValueError(f"image encoding must be one of {IMAGE_ENCODINGS}, got {encoding!r}")
    ok, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise ValueError(f"camera {name!r}: JPEG encoding failed")
    return Blob(name, "uint8", tuple(int(s) for s in rgb.shape), "jpeg", data.tobytes())


def decode_image(blob: Blob, expected_hw3: tuple[int, ...]) -> np.ndarray:
    """The ``(H, W, 3)`` uint8 RGB frame of ``blob``, refused unless it has ``expected_hw3``."""
    if blob.dtype != "uint8" or tuple(blob.shape) != tuple(expected_hw3):
        raise WireError(
            f"image {blob.name!r}: {blob.dtype} {list(blob.shape)}, expected uint8 "
            f"{list(expected_hw3)}"
        )
    if blob.encoding == "raw":
        return blob.array().copy()  # writable, as torch wants
    size = jpeg_size(blob.data)
    if size != tuple(expected_hw3[:2]):
        raise WireError(f"image {blob.name!r}: JPEG of size {size}, expected {expected_hw3[:2]}")
    image = cv2.imdecode(np.frombuffer(blob.data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.shape != tuple(expected_hw3):
        raise WireError(f"image {blob.name!r}: not a decodable {list(expected_hw3)} JPEG")
    return np.ascontiguousarray(image[..., ::-1])  # BGR -> RGB


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(height, width)`` from a JPEG's start-of-frame marker; None if it has none before the scan."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in SOF_MARKERS:
            if length < 7 or i + 9 > len(data):
                return None
            return int.from_bytes(data[i + 5 : i + 7], "big"), int.from_bytes(
                data[i + 7 : i + 9], "big"
            )
        if marker == 0xDA or length < 2:  # start of scan before any frame header
            return None
        i += 2 + length
    return None
