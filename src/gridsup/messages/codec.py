"""One msgpack codec per channel: an encoder and a typed decoder, created once.

A codec is the only way a frame becomes a message. ``decode`` rejects anything that is
not exactly one member of the channel's tagged union (garbage, truncated frames, unknown
tags, wrong field types) with :class:`msgspec.DecodeError`, which names the field; the
receiving actor logs, counts and drops such a frame.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")

# What a codec raises on a bad frame: ValidationError is a subclass of DecodeError.
DecodeError = msgspec.DecodeError


class Codec(Generic[T]):
    """Encoder and decoder for one channel's tagged union ``T``.

    Encoders and decoders are reused for every frame (msgspec's perf advice); a codec
    is cheap to hold and safe to share within one thread.
    """

    __slots__ = ("_decoder", "_encoder", "name")

    def __init__(self, name: str, union: Any) -> None:
        self.name = name
        self._encoder = msgspec.msgpack.Encoder(decimal_format="string")
        self._decoder: msgspec.msgpack.Decoder[T] = msgspec.msgpack.Decoder(union)

    def encode(self, message: T) -> bytes:
        """Serialise one message of this channel.

        Raises:
            TypeError: ``message`` holds a value msgpack cannot encode.
        """
        return self._encoder.encode(message)

    def decode(self, frame: bytes | bytearray | memoryview) -> T:
        """Parse one frame into a member of the channel's union.

        Raises:
            msgspec.DecodeError: the frame is not valid msgpack, is truncated, has an
                unknown tag, or a field has the wrong type (the message names it).
        """
        try:
            return self._decoder.decode(frame)
        except UnicodeDecodeError as exc:
            # msgspec lets a str with invalid UTF-8 escape as UnicodeDecodeError (found by
            # the hypothesis test); to the receiver it is garbage like any other.
            raise msgspec.DecodeError(f"{self.name}: invalid UTF-8 in a string: {exc}") from exc

    def __repr__(self) -> str:
        return f"Codec({self.name!r})"
