"""gridsup: supervised spot grid trading."""

__version__ = "0.1.0"
