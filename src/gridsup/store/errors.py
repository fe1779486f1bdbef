"""Errors of the store, classified by what the caller must do about them.

Every message names the database URL with its password hidden, so an operator can
act on it and no secret reaches a log or a terminal.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store error."""


class DatabaseConfigError(StoreError):
    """The database URL cannot work as written (malformed, unknown or unsupported driver,
    unknown database, credentials refused): fix the configuration, retrying will not help."""


class DatabaseUnavailable(StoreError):
    """The database could not be reached or stopped answering: temporary, retry later."""


class StateVersionError(StoreError):
    """A saved strategy state cannot be migrated to the version the caller expects."""


class RecordRefused(StoreError):
    """The database refused a value of the records written (too long for its column, a
    constraint broken): the data is bad, and writing it again will not help."""


class MoneyRangeError(StoreError, ValueError):
    """A Decimal does not fit a money column exactly (too many digits, NaN or infinite)."""


class StateFenced(StoreError):
    """A state save carries an older fencing epoch than the stored state: it comes from a
    dead incarnation of the grid (a killed process's late write, or a partitioned cluster
    member), and storing it would overwrite its successor's state. Never retried."""
