"""What a venue dialect declares: how client order ids are written and checked, how an
order is found by its client id (open and closed), which credentials the venue needs,
the asset its fees are charged in, its rate limits and which of its error codes are
temporary. Pure data (no ccxt import): ``gridsup exchanges`` lists it without loading
ccxt, and the ccxt adapter reads it at one place (``CcxtExchange``)."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ClientIdLookup",
    "Dialect",
    "FeeAsset",
    "identity",
]


class ClientIdLookup(enum.Enum):
    """How ccxt finds one order by its client id on a venue."""

    # fetch_order(None, symbol, {"clientOrderId": id}): one request, open or closed.
    FETCH_ORDER = "fetch_order"
    # fetch_open_orders, then the finished orders (``Dialect.finished_orders``), both
    # filtered by the id (Bybit: its fetch_order raises ArgumentsRequired on a unified
    # account; Kraken: its fetch_order sends the id as a ``userref``).
    OPEN_THEN_FINISHED = "open_then_finished"


class FeeAsset(enum.Enum):
    """The asset a fill's fee is charged in."""

    QUOTE = "quote"
    BASE = "base"
    RECEIVED = "received"  # the asset the fill brings in: base on a buy, quote on a sell


def identity(value: str) -> str:
    return value


@dataclass(frozen=True, kw_only=True)
class Dialect:
    """One verified venue, as the ccxt adapter must speak to it."""

    id: str  # ccxt's exchange id
    name: str
    api: str  # which REST API (for the listing)
    client_id_field: str  # the venue's own parameter name
    client_id_max: int  # longest id the venue takes
    client_id_pattern: str  # the characters it takes (a regex of the whole id)
    lookup: ClientIdLookup
    lookup_param: str = "clientOrderId"  # the ccxt param the lookup passes the id in
    # the ccxt method listing finished (filled AND cancelled) orders, for OPEN_THEN_FINISHED
    finished_orders: str = "fetch_closed_orders"
    # whether ccxt's fetch_order(id) finds an order by exchange id, open or finished
    # (False: the open list, then the finished one, asked by ``orderId``)
    fetch_order_by_id: bool = True
    credentials: tuple[str, ...] = ("apiKey", "secret")  # ccxt's credential fields
    buy_fee: FeeAsset = FeeAsset.QUOTE
    sell_fee: FeeAsset = FeeAsset.QUOTE
    rate_limit: str = ""  # the venue's published limits, for the listing and docs
    temporary_codes: tuple[str, ...] = ()  # venue codes that mean "retry later"
    rate_limit_codes: tuple[str, ...] = ()  # venue codes that mean "too many requests"
    duplicate_codes: tuple[str, ...] = ()  # venue codes of a client id already used
    ccxt_options: Mapping[str, Any] = field(default_factory=dict)
    verified: tuple[str, ...] = ()  # what the loopback dialect tests prove
    notes: tuple[str, ...] = ()  # what was modelled the harsher way
    # our id -> the venue's form, and back (identity unless the venue needs another form)
    encode: Callable[[str], str] = identity
    decode: Callable[[str], str] = identity

    # -- client ids -------------------------------------------------------------------

    def encode_client_id(self, client_id: str) -> str:
        """Our client id as the venue is sent it (identity unless the venue needs a
        different form, see Kraken)."""
        return self.encode(client_id)

    def decode_client_id(self, venue_id: str | None) -> str | None:
        """The venue's client id back as ours (None stays None; a foreign id is kept)."""
        if venue_id is None:
            return None
        return self.decode(venue_id)

    def client_id_problem(self, client_id: str) -> str | None:
        """Why the venue would refuse ``client_id`` (as it is sent); None if it takes it."""
        sent = self.encode_client_id(client_id)
        if len(sent) > self.client_id_max:
            return (
                f"{self.name} {self.client_id_field} takes at most {self.client_id_max} "
                f"characters, {sent!r} has {len(sent)}"
            )
        if not re.fullmatch(self.client_id_pattern, sent):
            field_name = f"{self.name} {self.client_id_field}"
            return f"{field_name} must match {self.client_id_pattern}: {sent!r}"
        return None
