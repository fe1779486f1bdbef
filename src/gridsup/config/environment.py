"""Overrides of a grids file from the environment (``GRIDSUP_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridsup.config.exchange import ExchangeMode

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class EnvSettings(BaseSettings):
    """Overrides from the environment (``GRIDSUP_*``); they win over the file."""

    model_config = SettingsConfigDict(env_prefix="GRIDSUP_", extra="ignore")

    db_url: str | None = None
    log_level: str = "INFO"
    log_json: bool = False
    data_dir: Path | None = None
    exchange_mode: ExchangeMode | None = None

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise PydanticCustomError(
                "log_level",
                "must be one of {levels}, got {value}",
                {"levels": ", ".join(LOG_LEVELS), "value": value},
            )
        return value.upper()
