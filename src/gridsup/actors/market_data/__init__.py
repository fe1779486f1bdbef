"""The market-data actor: one per exchange; publishes a Tick per symbol (``actor``)."""
