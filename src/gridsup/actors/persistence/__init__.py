"""The persistence actor: the only process that writes to the database (``actor``), its
reads (``reads``: states with their lease claims, retired ids), and the mapping of
store-channel messages to store records (``records``)."""
