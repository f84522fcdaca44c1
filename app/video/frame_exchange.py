"""Frames from a decode process to the UI through shared memory: newest frame only.

One block per feed, made and unlinked by the parent (a crashed decoder leaks nothing), holding a
header and two frame slots. The decoder writes the next frame into the slot the reader is not
meant to be reading, then publishes it under a sequence lock: ``seq`` is odd while the header is
being changed. The reader copies the newest slot and keeps the copy only if ``seq`` did not
move meanwhile (else it tries again); it records the ``seq`` it took in the header, so the writer
counts a frame replaced before anyone took it as dropped.

Header layout (little-endian, 64 bytes): seq u64, frame number u64, width u32, height u32,
slot u32, size u32, decoded_at_ns u64 (time.monotonic_ns of the decoder), source_time_ns i64
(the stream's own clock where it has one, else 0), dropped u64, taken_seq u64 (written by the
reader only).

Pixels are BGRX (blue, green, red, 255): on a little-endian machine that is QImage's
``Format_RGB32``, the format of the window's backing store, so the tile blits a frame without
converting it. A BGR888 frame cost the UI 0.1 ms per paint in conversion, split by Qt over its GUI
thread pool, and the hand-offs to those threads stalled the event loop whenever the decoders kept
both cores busy (p99 25-36 ms against 15 ms with BGRX, bench/wall.py, 16 tiles).
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]

_HEADER = struct.Struct("<QQIIIIQqQ")
_TAKEN = struct.Struct("<Q")
_TAKEN_OFFSET = 56
HEADER_SIZE = 64
CHANNELS = 4  # BGRX


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded, scaled, masked frame as the UI paints it (BGRX, tile-sized)."""

    image: Image
    number: int
    decoded_at_ns: int
    source_time_ns: int


def block_size(max_width: int, max_height: int) -> int:
    return HEADER_SIZE + 2 * max_width * max_height * CHANNELS


class FrameExchange:
    """One feed's shared block; the parent creates it, the decoder attaches by name."""

    def __init__(self, memory: shared_memory.SharedMemory, max_width: int, max_height: int):
        self._memory = memory
        buffer = memory.buf
        assert buffer is not None
        self._buffer: memoryview = buffer
        self.max_width = max_width
        self.max_height = max_height
        self._slot_bytes = max_width * max_height * CHANNELS
        self._last_seq = 0
        self.frames_written = 0
        self.dropped = 0

    @classmethod
    def create(cls, max_width: int, max_height: int) -> FrameExchange:
        memory = shared_memory.SharedMemory(create=True, size=block_size(max_width, max_height))
        memory.buf[:HEADER_SIZE] = bytes(HEADER_SIZE)  # type: ignore[index]
        return cls(memory, max_width, max_height)

    @classmethod
    def attach(cls, name: str, max_width: int, max_height: int) -> FrameExchange:
        # Decode processes are spawned by the supervisor and share its resource tracker, so
        # attaching adds no second owner: the block goes when the parent unlinks it (or exits).
        memory = shared_memory.SharedMemory(name=name)
        return cls(memory, max_width, max_height)

    @property
    def name(self) -> str:
        return self._memory.name

    def write(self, image: Image, number: int, decoded_at_ns: int, source_time_ns: int) -> None:
        """Publish a frame (decoder side). ``image`` must fit the block's maximum size."""
        height, width = image.shape[:2]
        if width > self.max_width or height > self.max_height:
            raise ValueError(f"frame {width}x{height} exceeds {self.max_width}x{self.max_height}")
        buffer = self._buffer
        seq, _, _, _, slot, _, _, _, dropped = _HEADER.unpack_from(buffer, 0)
        (taken,) = _TAKEN.unpack_from(buffer, _TAKEN_OFFSET)
        target = 1 - slot if seq else 0
        start = HEADER_SIZE + target * self._slot_bytes
        view = np.ndarray((height, width, CHANNELS), np.uint8, buffer, start)
        view[...] = image
        del view
        if seq and taken != seq:
            dropped += 1  # the frame now replaced was never taken
        _TAKEN.pack_into(buffer, 0, seq + 1)  # odd: the header is changing
        _HEADER.pack_into(
            buffer,
            0,
            seq + 1,
            number,
            width,
            height,
            target,
            width * height * CHANNELS,
            decoded_at_ns,
            source_time_ns,
            dropped,
        )
        _TAKEN.pack_into(buffer, 0, seq + 2)
        self.frames_written += 1

    def read(self) -> Frame | None:
        """The newest frame not yet read, copied out; None when there is none (reader side)."""
        buffer = self._buffer
        for _ in range(4):
            seq, number, width, height, slot, _, decoded, source, dropped = _HEADER.unpack_from(
                buffer, 0
            )
            if seq in (self._last_seq, 0):
                return None
            if seq & 1:
                continue
            start = HEADER_SIZE + slot * self._slot_bytes
            image = np.ndarray((height, width, CHANNELS), np.uint8, buffer, start).copy()
            if _TAKEN.unpack_from(buffer, 0)[0] != seq:
                continue  # a new frame was published while copying: take that one instead
            self._last_seq = seq
            self.dropped = dropped
            _TAKEN.pack_into(buffer, _TAKEN_OFFSET, seq)
            return Frame(image, number, decoded, source)
        return None

    def close(self) -> None:
        del self._buffer
        self._memory.close()

    def unlink(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self._memory.unlink()
