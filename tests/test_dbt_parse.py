"""A home whose warehouse changes and changes back (TRACKTRACKER_DATABASE_URL moved to another server
and back) parses the dbt project once per warehouse, not at every switch between them: dbt's
partial-parsing state is valid only for the connection it was made with, so each parse is kept and
put back when that warehouse comes back, unless the project changed since."""

from __future__ import annotations

import os
import time

from tracktracker_assets.settings import Settings
from tracktracker_assets.transform import project


def _warehouse(monkeypatch, port: int) -> Settings:
    monkeypatch.setenv(
        "TRACKTRACKER_DATABASE_URL", f"postgresql://tracktracker:secret@127.0.0.1:{port}/tracktracker"
    )
    return Settings.from_env()


def test_a_warehouse_switched_back_to_gets_its_parse_back(tt_home, monkeypatch) -> None:
    first, second = _warehouse(monkeypatch, 51001), _warehouse(monkeypatch, 51002)
    target = first.dbt_target_dir
    project.ensure_manifest(first)
    state_of_first = (target / "partial_parse.msgpack").read_bytes()
    project.ensure_manifest(second)
    assert (target / "partial_parse.msgpack").read_bytes() != state_of_first  # another connection's

    parses: list[list[str]] = []
    monkeypatch.setattr(project, "run_dbt", lambda settings, args, **kw: parses.append(list(args)))
    project.ensure_manifest(first)
    assert parses == []  # put back, not parsed again
    assert (target / "partial_parse.msgpack").read_bytes() == state_of_first

    # the project changed after the second warehouse's parse: that one is stale and dbt parses again
    model = next((project.DBT_PROJECT_DIR / "models").rglob("*.sql"))
    later = time.time() + 2
    os.utime(model, (later, later))
    project.ensure_manifest(second)
    assert parses == [["parse", "--quiet"]]


def test_the_kept_parse_has_its_jinja_compiled(tt_home, monkeypatch) -> None:
    """The command process compiles the project's Jinja while it warms up (transform/parsed.py,
    transform/compiled_templates.py): a refresh's dbt in a fork finds dbt's materializations, the
    adapter's macros and ours compiled, and each node's SQL and hooks, and renders them as before."""
    import dbt.clients.jinja as dbt_jinja
    from dbt_common.clients.jinja import get_template as compiled_every_time
    from dbt_common.clients.jinja import template_cache

    from tracktracker_assets.transform import compiled_templates, parsed

    monkeypatch.setattr(parsed, "_parsed", None)
    template_cache.clear()
    said = parsed.parse(Settings.from_env())
    manifest = parsed._parsed.manifest
    assert said.startswith(f"dbt project parsed ({len(manifest.nodes)} nodes, ") and said.endswith(
        " sources compiled)"
    )
    assert int(said.split(", ")[1].split()[0]) >= len(manifest.macros) + len(manifest.nodes)
    for name in ("macro.tracktracker.row_security", "macro.dbt.materialization_incremental_default"):
        assert manifest.macros[name].macro_sql in template_cache.file_cache, name
    rank_music = manifest.nodes["model.tracktracker.rank_music"]
    publish_statistics, row_security, remember_batch = rank_music.config.post_hook
    for source in (rank_music.raw_code, publish_statistics.sql, row_security.sql, remember_batch.sql):
        assert (source, False) in compiled_templates._codes

    # a kept compile renders what a fresh one does, with this render's own context; a new source is
    # compiled once, then kept
    context = {"listener": "ana", "plays": [3, 1]}
    source = "{% for n in plays %}{{ listener }}:{{ n }} {% endfor %}"
    expected = compiled_every_time(source, context).render(context)
    assert dbt_jinja.get_template(source, context).render(context) == expected == "ana:3 ana:1 "
    assert (source, False) in compiled_templates._codes
    other = {**context, "listener": "ben"}
    assert dbt_jinja.get_template(source, other).render(other) == "ben:3 ben:1 "
