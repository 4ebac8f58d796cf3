"""Dagster resources: thin wrappers over the warehouse and the registry.

Neither holds a secret in its config (the Dagster UI shows resource config): by default they take
URLs from TRACKTRACKER settings, which read them from the environment or TRACKTRACKER_HOME.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import ConfigurableResource

from tracktracker_assets.settings import Settings, get_settings
from tracktracker_assets.users.registry import Registry
from tracktracker_assets.warehouse.db import connect


class WarehouseResource(ConfigurableResource):
    """The PostgreSQL warehouse (bronze written by Python, silver/gold by dbt)."""

    database_url: str | None = None

    def settings(self) -> Settings:
        """The settings this resource stands for: the configured URL wins over the environment's."""
        settings = get_settings()
        if self.database_url:
            return dataclasses.replace(settings, database_url_override=self.database_url)
        return settings

    def url(self) -> str:
        return self.settings().database_url

    def connect(self, *, autocommit: bool = False, application: str = "tracktracker-dagster") -> Any:
        """A new connection the caller closes (for workers that each hold their own)."""
        return connect(self.url(), autocommit=autocommit, application=application)

    @contextmanager
    def connection(self, *, autocommit: bool = False) -> Iterator[Any]:
        conn = self.connect(autocommit=autocommit)
        try:
            yield conn
        finally:
            conn.close()


class RegistryResource(ConfigurableResource):
    """The MongoDB user registry (users, Spotify tokens, sign-in sessions)."""

    mongo_url: str | None = None
    database: str | None = None

    @contextmanager
    def open(self) -> Iterator[Registry]:
        settings = get_settings()
        registry = Registry(
            self.mongo_url or settings.mongo_url, self.database or settings.mongo_db, settings.secret_key
        )
        try:
            yield registry
        finally:
            registry.close()
