"""The paper exchange: a deterministic matching engine for dry-run trading and the loopback
exchange (``engine``) over an account's state, queries and snapshot (``account``), its
orders (``book``), funds (``balances``), matching (``match``), fees (``fees``), order
rules (``rules``), remembered history (``history``), forgotten client ids (``retired``)
and snapshot format (``snapshot``)."""
