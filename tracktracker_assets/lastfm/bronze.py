"""The lastfm bronze tables: numbered migrations applied by warehouse/schema.py in version order.

Versions are global: this room owns 500 to 599, the core (schema.py) those below 100.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = []
