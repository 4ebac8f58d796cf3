"""`users connect-lastfm` / `users connect-listenbrainz`, what `status` shows of a live pull's problem,
`users disconnect` stopping a service's pulls, and `users remove` erasing the pulled rows and the
registry's accounts and token."""

from __future__ import annotations

import requests

from tests.conftest import cli
from tests.fakes.lastfm_server import FakeLastfm
from tests.fakes.listenbrainz_server import FakeListenBrainz
from tests.lastfm.conftest import lastfm  # noqa: F401  (the fixture)
from tests.lastfm.conftest import templates as lastfm_items
from tests.listenbrainz.conftest import templates as listenbrainz_items
from tracktracker_assets.lastfm import pull as lastfm_pull
from tracktracker_assets.listenbrainz import pull as listenbrainz_pull
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.settings import get_settings
from tracktracker_assets.users.accounts import mirror_users
from tracktracker_assets.warehouse.db import query

TOKEN = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def status_row(output: str, user_id: str, table: str = "┃ problem") -> dict[str, str]:
    """One user's row in the `status` table with this column, each cell's wrapped lines joined."""
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if table in line)
    header, lines = lines[start], lines[start + 1 :]
    names = [cell.strip() for cell in header.split("┃")[1:-1]]
    cells: list[list[str]] = []
    for line in lines:
        if not line.startswith("│"):
            if cells:  # the end of the table
                break
            continue
        parts = [cell.strip() for cell in line.split("│")[1:-1]]
        if parts[0]:
            if cells:  # the next user's row: this one is complete
                break
            cells = [[part] for part in parts] if parts[0] == user_id else []
        elif cells:
            for column, part in zip(cells, parts, strict=True):
                column.append(part)
    return {name: " ".join(p for p in column if p) for name, column in zip(names, cells, strict=True)}


def rows(table: str, user_id: str) -> int:
    return query(get_settings().database_url, f"select count(*) from {table} where user_id = %s", (user_id,))[
        1
    ][0][0]


def test_connect_commands_status_and_erasure(
    lastfm: FakeLastfm,  # noqa: F811  (the fixture imported above)
    listenbrainz: FakeListenBrainz,
    conn,
    tmp_path,
) -> None:
    code, output = cli("users", "add", "livia", "--timezone", "Europe/Lisbon")
    assert code == 0, output
    code, output = cli("users", "connect-lastfm", "livia", "not a name!")
    assert code != 0 and "is not a Last.fm username" in output
    code, output = cli("users", "connect-lastfm", "livia", "LiviaFM")
    assert code == 0 and "LiviaFM" in output, output
    empty = tmp_path / "empty"
    empty.write_text("\n")
    code, output = cli("users", "connect-listenbrainz", "livia", "livia-lb", "--token-file", str(empty))
    assert code != 0 and "is empty" in output and str(empty) in output
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    code, output = cli("users", "connect-listenbrainz", "livia", "livia-lb", "--token-file", str(token_file))
    assert code == 0 and "kept encrypted" in output, output
    code, output = cli("users", "connect-lastfm", "nobody-here", "SomeName")
    assert code != 0 and "Unknown user 'nobody-here'" in output

    with open_registry(get_settings()) as registry:
        user = registry.require_user("livia")
        assert (user.lastfm_user, user.listenbrainz_user) == ("LiviaFM", "livia-lb")
        assert registry.listenbrainz_token("livia") == TOKEN
        assert TOKEN not in str(registry.users.find_one({"user_id": "livia"}))  # encrypted at rest

    # Last.fm: a private profile, shown by `status`; ListenBrainz: listens pulled with the token
    lastfm.add_user("LiviaFM", private=True)
    listenbrainz.add_user("livia-lb")
    listenbrainz.tokens.add(TOKEN)
    for n in range(3):
        listenbrainz.listen("livia-lb", listenbrainz_items()[n], 1_650_000_000 + 400 * n)
    with open_registry(get_settings()) as registry, requests.Session() as http:
        assert lastfm_pull.pull(get_settings(), conn, registry, "livia", http).status == "failed"
        assert listenbrainz_pull.pull(get_settings(), conn, registry, "livia", http).inserted == 3
    code, output = cli("status")
    livia = status_row(output, "livia")
    accounts = status_row(output, "livia", "┃ ListenBrainz")
    assert (accounts["Last.fm"], accounts["ListenBrainz"]) == ("LiviaFM", "livia-lb")
    assert livia["problem"].startswith("Last.fm: the Last.fm profile LiviaFM hides its recent listening"), (
        output
    )
    lastfm.users["liviafm"].private = False
    lastfm.scrobble("LiviaFM", lastfm_items()[1], 1_650_000_100)
    with open_registry(get_settings()) as registry, requests.Session() as http:
        assert lastfm_pull.pull(get_settings(), conn, registry, "livia", http).inserted == 1
        assert registry.require_user("livia").problems == ""
    assert rows("bronze.lastfm_recent_tracks", "livia") == 1
    assert rows("bronze.listenbrainz_api_listens", "livia") == 3

    code, output = cli("users", "remove", "livia", "--yes")
    assert code == 0, output
    for table in (
        "bronze.lastfm_recent_tracks",
        "bronze.lastfm_pulls",
        "bronze.listenbrainz_api_listens",
        "bronze.listenbrainz_pulls",
    ):
        assert rows(table, "livia") == 0, table
    with open_registry(get_settings()) as registry:
        assert registry.users.find_one({"listenbrainz_user": "livia-lb"}) is None
        assert registry.users.find_one({"lastfm_user": "LiviaFM"}) is None


def disconnect(user_id: str, service: str) -> tuple[int, str]:
    """`users disconnect`, its output on one line (the console wraps it)."""
    code, output = cli("users", "disconnect", user_id, service)
    return code, " ".join(output.split())


def test_disconnect_stops_each_pull_and_keeps_the_plays(
    lastfm: FakeLastfm,  # noqa: F811  (the fixture imported above)
    listenbrainz: FakeListenBrainz,
    conn,
) -> None:
    settings = get_settings()
    code, output = cli("users", "add", "dora", "--timezone", "Europe/Lisbon")
    assert code == 0, output
    try:
        with open_registry(settings) as registry:
            registry.connect_lastfm("dora", "DoraFM")
            registry.connect_listenbrainz("dora", "dora-lb", TOKEN)
            consent = {"access_token": "AQ-a", "refresh_token": "AQ-r", "expires_at": 1}
            registry.save_token("dora", consent, spotify_user_id="dora-sp")
            registry.set_status("dora", "needs_reauth", "Spotify refused the refresh token")
        mirror_users(settings)
        lastfm.add_user("DoraFM")
        lastfm.scrobble("DoraFM", lastfm_items()[0], 1_650_000_000)
        listenbrainz.add_user("dora-lb")
        listenbrainz.tokens.add(TOKEN)
        for n in range(2):
            listenbrainz.listen("dora-lb", listenbrainz_items()[n], 1_650_000_000 + 400 * n)
        with open_registry(settings) as registry, requests.Session() as http:
            assert lastfm_pull.pull(settings, conn, registry, "dora", http).inserted == 1
            assert listenbrainz_pull.pull(settings, conn, registry, "dora", http).inserted == 2

        code, output = disconnect("dora", "lastfm")
        assert code == 0 and "Disconnected dora from Last.fm (DoraFM)" in output, output
        assert "plays already loaded stay" in output
        code, output = disconnect("dora", "listenbrainz")
        assert code == 0 and "Disconnected dora from ListenBrainz (dora-lb)" in output, output
        # new plays there are not fetched any more; the ones fetched stay
        lastfm.scrobble("DoraFM", lastfm_items()[1], 1_650_000_900)
        listenbrainz.listen("dora-lb", listenbrainz_items()[2], 1_650_000_900)
        with open_registry(settings) as registry, requests.Session() as http:
            for pull in (lastfm_pull, listenbrainz_pull):
                outcome = pull.pull(settings, conn, registry, "dora", http)
                assert (outcome.status, outcome.inserted) == ("skipped", 0), outcome
            assert registry.listenbrainz_token("dora") is None
            assert TOKEN not in str(registry.users.find_one({"user_id": "dora"}))
        assert rows("bronze.lastfm_recent_tracks", "dora") == 1
        assert rows("bronze.listenbrainz_api_listens", "dora") == 2

        code, output = disconnect("dora", "spotify")
        assert code == 0 and "Disconnected dora from Spotify (dora-sp)" in output, output
        assert "spotify.com/account/apps" in output
        with open_registry(settings) as registry:
            user = registry.require_user("dora")
            assert registry.load_token("dora") is None and not user.connected
            assert (user.status, user.last_error) == ("active", None)
        # the warehouse's copy of the registry follows: she no longer has to reconnect
        mirrored = query(
            settings.database_url, "select status from bronze.registry_users where user_id = 'dora'"
        )
        assert mirrored[1] == [("active",)]

        code, output = disconnect("dora", "lastfm")
        assert code == 0 and "dora was not connected to Last.fm: nothing changed." in output, output
        code, output = disconnect("dora", "deezer")
        assert code != 0 and "pulls nothing from 'deezer'" in output, output
    finally:
        code, output = cli("users", "remove", "dora", "--yes")
        assert code == 0, output
