"""The persistence actor: the only process that writes to the database (``actor``), and the
mapping of store-channel messages to store records (``records``)."""
