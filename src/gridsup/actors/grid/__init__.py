"""The strategy actor: one grid, one process, for the grid's whole life (``actor``), and its
parts: the start and resync path (``start``), commits that make state durable before orders
go out (``commit``), the orders channel (``orders``), ticks (``ticks``), the execution
context handed to the strategy (``context``), its lifecycle vocabulary and its status."""
