"""The execution actor: the one process per account that holds the account (API keys, or
the paper account in dry-run) and places, cancels and watches every grid's orders
(``actor``), durable first (``commits``: records to the store, actions released by their
Acks). Its socket-free order logic is the ``desk``, the face of its parts (``placing``,
``cancelling``, ``queries``, ``adoption``, ``paper_fills``, sharing ``admission``,
``inflight``, ``replies`` and the ``workbench``); then the orders it tracks
(``tracked_orders``), booking fills (``booking``), per-grid budgets, the account's rate
limit, the durable outbox, live polling and streams, dry-run catch-up and the venue seam."""
