"""Column types that keep gridsup's values exact on SQLite and PostgreSQL alike.

``Money`` stores a ``Decimal`` with up to 20 integer and 18 fractional digits
(prices down to 1e-18, amounts up to 1e20) and never lets it pass through float:

* PostgreSQL: ``NUMERIC(38, 18)``, exact by definition; asyncpg hands back Decimals.
* SQLite has no decimal type (its NUMERIC affinity turns "0.1" into a REAL), so the
  value is stored as fixed-width TEXT that sorts like the number it encodes::

      12.5   -> "00000000000000000012.500000000000000000"
      -12.5  -> "-99999999999999999987.499999999999999999"   (nines' complement)

  Equal numbers have equal text and ``<``/``ORDER BY``/``MIN``/``MAX`` compare the
  numbers, so the store's guarded upserts (``filled`` never decreases) and ordering by
  price work the same on both engines. Arithmetic (``SUM``) is not meaningful on the
  text: the store aggregates money in Python with Decimal instead.

A value that does not fit exactly raises ``MoneyRangeError`` on both engines instead of
being rounded (PostgreSQL would round silently beyond 18 decimals).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from typing import Any, TypeVar

from sqlalchemy import DateTime, Dialect, Numeric, String, Text
from sqlalchemy.types import TypeDecorator, TypeEngine

from gridsup.store.errors import MoneyRangeError

INTEGER_DIGITS = 20
SCALE = 18
_WIDTH = INTEGER_DIGITS + SCALE
_LIMIT = 10 ** (_WIDTH)
_COMPLEMENT = str.maketrans("0123456789", "9876543210")
_EXACT = Context(prec=100, Emax=MAX_EMAX, Emin=MIN_EMIN)


def encode_money(value: Decimal) -> str:
    """The order-preserving fixed-width text of ``value`` (SQLite storage form).

    Raises:
        MoneyRangeError: ``value`` is not finite, has more than 18 decimals or more
            than 20 integer digits.
    """
    scaled = _scaled(value)
    digits = f"{abs(scaled):0{_WIDTH}d}"
    if scaled < 0:
        digits = digits.translate(_COMPLEMENT)
        return f"-{digits[:INTEGER_DIGITS]}.{digits[INTEGER_DIGITS:]}"
    return f"{digits[:INTEGER_DIGITS]}.{digits[INTEGER_DIGITS:]}"


def decode_money(text: str) -> Decimal:
    """Inverse of :func:`encode_money`, trimmed of trailing zeros (``"1.50"`` -> 1.5)."""
    if text.startswith("-"):
        return Decimal("-" + _trim(text[1:].translate(_COMPLEMENT)))
    return Decimal(_trim(text))


def _scaled(value: Decimal) -> int:
    if not isinstance(value, Decimal):
        # int is exact; float and str are refused so a float never sneaks in.
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value)
        else:
            raise MoneyRangeError(f"money must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise MoneyRangeError(f"money must be finite, got {value}")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -SCALE:
        # Trailing zeros beyond the scale are harmless ("1.0000000000000000000").
        normal = value.normalize()
        exponent = normal.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent < -SCALE:
            raise MoneyRangeError(f"{value} has more than {SCALE} decimals")
        value = normal
    # scaleb only moves the exponent; the wide context guarantees it never rounds.
    scaled = int(value.scaleb(SCALE, _EXACT))
    if abs(scaled) >= _LIMIT:
        raise MoneyRangeError(f"{value} has more than {INTEGER_DIGITS} integer digits")
    return scaled


# The persistence actor binds the same few prices, amounts and fees over and over (grid
# levels, one order size): equal values encode to equal text, so the encoding of the
# last few thousand distinct values is kept. Exceptions are not cached (bad values still
# raise), and only finite Decimals are looked up (a signalling NaN cannot be hashed).
_MONEY_CACHE = 4096
_encode_known = functools.lru_cache(maxsize=_MONEY_CACHE)(encode_money)
_check_known = functools.lru_cache(maxsize=_MONEY_CACHE)(_scaled)


def _trim(text: str) -> str:
    """Plain decimal text without leading zeros in the integer part or trailing zeros
    in the fraction: "00012.500" -> "12.5", "0003.000" -> "3"."""
    whole, _, fraction = text.partition(".")
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


class Money(TypeDecorator[Decimal]):
    """Exact Decimal column: NUMERIC(38, 18) on PostgreSQL, sortable TEXT on SQLite."""

    impl = Numeric(_WIDTH, SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(_WIDTH + 2))
        return dialect.type_descriptor(Numeric(_WIDTH, SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        known = type(value) is Decimal and value.is_finite()
        if dialect.name == "sqlite":
            return _encode_known(value) if known else encode_money(value)
        if known:  # the same exactness check on every engine
            _check_known(value)
        else:
            _scaled(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, str):
            return decode_money(value)
        return Decimal(_trim(format(value, "f")))


E = TypeVar("E", bound=enum.Enum)


class EnumValue(TypeDecorator[E]):
    """An ``enum.Enum`` stored as its value in a short VARCHAR (no native enum type, so
    adding a member needs no migration on PostgreSQL)."""

    impl = String(16)
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int = 16) -> None:
        super().__init__(length)
        self.enum_type = enum_type
        # Member -> value without the enum machinery (bound once per row and column).
        self._values = {member: member.value for member in enum_type}

    def process_bind_param(self, value: E | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if type(value) is self.enum_type:
            return self._values[value]
        return self.enum_type(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_type(value)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on both engines (SQLite drops the zone, so it is
    put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is dt.UTC:
            return value
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store keeps UTC-aware timestamps only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# JSON payloads are kept as text so what was written is what is read back, byte for byte.
JSONText = Text
