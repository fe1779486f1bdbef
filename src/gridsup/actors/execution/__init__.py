"""The execution actor: the one process per account that holds the account (API keys, or
the paper account in dry-run) and places, cancels and watches every grid's orders
(``actor``); its socket-free order logic (``desk``), the orders it tracks
(``tracked_orders``), booking fills (``booking``), per-grid budgets, the account's rate
limit, the durable outbox, live polling, dry-run catch-up and the venue seam."""
