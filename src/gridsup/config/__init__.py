"""grids.toml + environment -> validated settings (:class:`GridsFile`).

A grids file holds an ``[exchange]`` table, optional ``[market_data]``, ``[database]``,
``[streams]``, ``[metrics]``, ``[alerts]`` and ``[web]`` tables, and any number of
``[[grid]]`` tables (each a :class:`GridConfig`). Loading
checks everything and reports *every* problem at once, one line each::

    grids.toml: grid[1] "eth": upper_price: must be greater than lower_price (2000)

API keys never live in the file: ``api_key_env``/``api_secret_env`` name the environment
variables that hold them. A few settings can be overridden from the environment
(``GRIDSUP_DB_URL``, ``GRIDSUP_LOG_LEVEL``, ``GRIDSUP_LOG_JSON``, ``GRIDSUP_DATA_DIR``,
``GRIDSUP_EXCHANGE_MODE``); see docs/configuration.md.

Parts: ``grids_file`` (loading and the whole file), ``exchange`` (``[exchange]``),
``tables`` (the other tables), ``environment`` (the ``GRIDSUP_*`` overrides).
"""

from gridsup.config.environment import LOG_LEVELS, EnvSettings
from gridsup.config.exchange import CredentialsError, ExchangeMode, ExchangeSettings
from gridsup.config.grids_file import GridsFile, GridsFileError, load_grids_file, parse_grids
from gridsup.config.tables import (
    DatabaseSettings,
    MarketDataSettings,
    MarketDataSource,
    StreamSettings,
    WebTable,
)

__all__ = [
    "LOG_LEVELS",
    "CredentialsError",
    "DatabaseSettings",
    "EnvSettings",
    "ExchangeMode",
    "ExchangeSettings",
    "GridsFile",
    "GridsFileError",
    "MarketDataSettings",
    "MarketDataSource",
    "StreamSettings",
    "WebTable",
    "load_grids_file",
    "parse_grids",
]
