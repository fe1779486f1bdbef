"""Money columns keep Decimal exactly, and sort like numbers, on both engines."""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.store.coltypes import decode_money, encode_money
from gridsup.store.database import Database
from gridsup.store.errors import MoneyRangeError
from gridsup.store.models import Order
from gridsup.store.orders import OrderRepository
from gridsup.store.records import OrderRecord

EXACT = [
    Decimal("0.0000000001"),  # 1e-10 price
    Decimal("1000000000000"),  # 1e12 amount
    Decimal("999999999999.999999999999999999"),
    Decimal("42000.01"),
    Decimal("-12.5"),
    Decimal("-0.000000000000000001"),
    Decimal("0"),
    Decimal("0.1"),
    Decimal("3.14159265358979323"),
]


def order(cid: str, price: Decimal, amount: Decimal = Decimal(1)) -> OrderRecord:
    return OrderRecord(
        exchange="binance",
        strategy="g1",
        client_order_id=cid,
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=OrderStatus.OPEN,
        price=price,
        amount=amount,
        timestamp=1,
    )


@pytest.mark.parametrize("value", EXACT)
def test_encoding_round_trips_and_keeps_order(value: Decimal) -> None:
    assert decode_money(encode_money(value)) == value
    with localcontext(Context(prec=60)):
        smaller, larger = value - Decimal("0.000000000000000001"), value + Decimal(1)
    assert encode_money(smaller) < encode_money(value) < encode_money(larger)


@pytest.mark.parametrize(
    "bad", [Decimal("1e-19"), Decimal("1e20"), Decimal("NaN"), Decimal("Infinity"), 0.1, "1.5"]
)
def test_values_that_do_not_fit_exactly_are_refused(bad: object) -> None:
    with pytest.raises(MoneyRangeError):
        encode_money(bad)  # type: ignore[arg-type]


async def test_money_round_trips_exactly_on_the_database(db: Database) -> None:
    async with db.session() as session:
        repo = OrderRepository(session)
        for i, value in enumerate(EXACT):
            await repo.upsert(order(f"c{i}", price=value, amount=abs(value) or Decimal(1)))
    async with db.session() as session:
        rows = (await session.execute(select(Order).order_by(Order.id))).scalars().all()
    assert [r.price for r in rows] == EXACT
    assert all(isinstance(r.price, Decimal) for r in rows)


async def test_ordering_and_comparison_by_money_work_in_sql(db: Database) -> None:
    async with db.session() as session:
        repo = OrderRepository(session)
        for i, value in enumerate(EXACT):
            await repo.upsert(order(f"c{i}", price=value))
    async with db.session() as session:
        ordered = (await session.execute(select(Order.price).order_by(Order.price))).scalars()
        above = (
            await session.execute(select(Order.price).where(Order.price > Decimal("0.1")))
        ).scalars()
        assert list(ordered) == sorted(EXACT)
        assert sorted(above) == sorted(v for v in EXACT if v > Decimal("0.1"))


async def test_a_value_too_precise_is_refused_not_rounded(db: Database) -> None:
    with pytest.raises(MoneyRangeError):
        async with db.session() as session:
            await OrderRepository(session).upsert(order("c1", price=Decimal("1e-19")))
    async with db.session() as session:
        assert await OrderRepository(session).get("binance", "c1") is None


FITS = st.decimals(
    min_value=Decimal("-99999999999999999999.999999999999999999"),
    max_value=Decimal("99999999999999999999.999999999999999999"),
    places=18,
    allow_nan=False,
    allow_infinity=False,
)


@given(FITS, FITS)
def test_text_order_is_number_order(a: Decimal, b: Decimal) -> None:
    assert decode_money(encode_money(a)) == a
    assert (encode_money(a) < encode_money(b)) == (a < b)
    assert (encode_money(a) == encode_money(b)) == (a == b)
