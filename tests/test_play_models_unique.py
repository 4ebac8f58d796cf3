"""Every staging model of plays (each one int_plays__conformed reads) holds a play once per listener,
(play_id, user_id), kept where it costs least: a table by its unique index, which PostgreSQL checks as
each row is written (a data test would read the listener's whole history again after every load), a
view, which has no index, by a data test. The index's refusal itself: tests/lastfm/test_load.py."""

from __future__ import annotations

from typing import Any

from tests.manifest_keys import unique_keys

KEY = ["play_id", "user_id"]


def _unique_tests(manifest: dict[str, Any], node: dict[str, Any]) -> list[list[str]]:
    return [sorted(columns) for how, columns in unique_keys(manifest, node) if how == "unique test"]


def test_every_play_model_is_unique_per_listener_by_an_index_or_a_test(manifest) -> None:
    nodes = manifest["nodes"]
    conformed = next(n for n in nodes.values() if n["name"] == "int_plays__conformed")
    play_models = [nodes[u] for u in conformed["depends_on"]["nodes"] if nodes[u]["resource_type"] == "model"]
    assert len(play_models) >= 12  # Spotify's three sources and the other services' nine
    kept_by_index, kept_by_test, neither = [], [], []
    for node in play_models:
        indexes = [columns for how, columns in unique_keys(manifest, node) if how == "index"]
        if node["config"]["materialized"] in ("table", "incremental") and KEY in indexes:
            kept_by_index.append(node["name"])
        elif sorted(KEY) in _unique_tests(manifest, node):
            kept_by_test.append(node["name"])
        else:
            neither.append(node["name"])
    assert not neither, f"play models unique by neither a unique index nor a test: {neither}"
    assert "stg_lastfm__scrobbles" in kept_by_index and "stg_apple_music__play_activity" in kept_by_test
    # a table's unique index already refuses a second copy: a test beside it would only read every row again
    doubled = [name for name in kept_by_index if _unique_tests(manifest, nodes[f"model.tracktracker.{name}"])]
    assert not doubled, f"unique by an index and tested again over every row: {doubled}"
