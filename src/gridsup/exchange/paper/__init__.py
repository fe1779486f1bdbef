"""The paper exchange: a deterministic matching engine for dry-run trading and the loopback
exchange (``engine``), its orders (``book``), funds (``balances``), matching (``match``),
order rules (``rules``), remembered history (``history``) and snapshot format
(``snapshot``)."""
