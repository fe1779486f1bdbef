"""``gridsup exchanges``: the venues gridsup trades on live, each with what its dialect
says (client ids, look-ups, credentials, fees, limits) and what was verified for it.
Any other ccxt exchange serves market data (dry-run) but is refused for live trading.
Reads no network and no ccxt: the dialects are data."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["exchanges"]


def _rows() -> list[dict[str, Any]]:
    from gridsup.exchange.ccxt.dialects import DIALECTS

    return [
        {
            "id": d.id,
            "name": d.name,
            "api": d.api,
            "client_order_id": {
                "field": d.client_id_field,
                "max_length": d.client_id_max,
                "pattern": d.client_id_pattern,
            },
            "lookup": d.lookup.value,
            "credentials": list(d.credentials),
            "fees": {"buy": d.buy_fee.value, "sell": d.sell_fee.value},
            "rate_limit": d.rate_limit,
            "temporary_codes": list(d.temporary_codes),
            "rate_limit_codes": list(d.rate_limit_codes),
            "verified": list(d.verified),
            "modelled_harsher": list(d.notes),
        }
        for d in sorted(DIALECTS.values(), key=lambda d: d.id)
    ]


@click.command("exchanges")
@click.option("--json", "as_json", is_flag=True, help="Print the venues as JSON.")
def exchanges(as_json: bool) -> None:
    """List the exchanges gridsup trades on live, and what was verified for each."""
    rows = _rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        cid = row["client_order_id"]
        click.echo(f"{row['id']}  ({row['name']}, {row['api']})")
        click.echo(
            f"  client order id: {cid['field']}, at most {cid['max_length']} characters; "
            f"found by {row['lookup']}"
        )
        click.echo(f"  credentials: {', '.join(row['credentials'])}")
        click.echo(f"  fees: buy in {row['fees']['buy']}, sell in {row['fees']['sell']}")
        click.echo(f"  rate limits: {row['rate_limit']}")
        for line in row["verified"]:
            click.echo(f"  verified: {line}")
        for line in row["modelled_harsher"]:
            click.echo(f"  note: {line}")
    click.echo(
        "Any other ccxt exchange: market data and dry-run only; `gridsup start` refuses "
        "to trade it live (exit 2)."
    )
