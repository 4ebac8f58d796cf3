# ruff: noqa: RUF001  (chart labels use en dashes on purpose)
"""What every chart must show, computed straight from gold with SQL written independently of the
datasets (labels mapped in Python), for one listener or, for the admin, everyone.

Each entry: chart name -> Expectation(rows(query, user, params), mode). Modes:
- "all": the chart's rows equal the expected rows (as a multiset; numbers to 1e-6);
- "top": a top-N list: every row is one of the expected rows, and its sort metric runs down the same
  values as the expected top N (ties at the cut may pick either entity).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from tests.reference_friends import NO_FRIEND, accepted_friends, recount

Query = Callable[[str, dict], list[tuple]]
Row = dict[str, Any]

PLATFORMS = {"ios": "iOS", "macos": "macOS", "tv": "TV", "cast": "Cast / speakers", "unknown": "Not recorded"}
KINDS = {"track": "Music", "episode": "Podcasts", "audiobook": "Audiobooks"}
STARTS = {
    "trackdone": "Previous track ended", "clickrow": "Picked from a list", "playbtn": "Play button",
    "fwdbtn": "Skipped forward to it", "backbtn": "Back button", "appload": "App opened",
    "remote": "Remote control", "trackerror": "Playback error",
}  # fmt: skip
ENDS = {
    "trackdone": "Played to the end", "fwdbtn": "Skipped forward", "backbtn": "Back button",
    "endplay": "Stopped", "logout": "Logged out", "remote": "Remote control", "trackerror": "Playback error",
    "unexpected-exit": "App closed", "unexpected-exit-while-paused": "App closed while paused",
}  # fmt: skip
SERVICES = {
    "spotify": "Spotify", "apple_music": "Apple Music", "youtube_music": "YouTube Music", "lastfm": "Last.fm",
    "listenbrainz": "ListenBrainz", "deezer": "Deezer", "tidal": "TIDAL",
}  # fmt: skip
# the labels carry their order in leading spaces (the charts sort by label): Monday the most
WEEKDAYS = [" " * (6 - i) + day for i, day in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])]


@dataclass(frozen=True)
class Params:
    """Dashboard state a test applies: the period (local dates [start, end)), an artist, a week."""

    start: date | None = None
    end: date | None = None
    artist: str | None = None
    track: str | None = None  # 'track — artist', as the Track page's filter offers it
    week: str | None = None

    def period(self, column: str) -> str:
        parts = []
        if self.start:
            parts.append(f"{column} >= '{self.start}'")
        if self.end:
            parts.append(f"{column} < '{self.end}'")
        return " AND ".join(parts) or "TRUE"


@dataclass(frozen=True)
class Expectation:
    rows: Callable[[Query, str | None, Params], list[Row]]
    mode: str = "all"
    sort: str | None = None  # "top": the metric the list is ordered by (descending)
    limit: int | None = None
    shown: Callable[[Row], Row] | None = None  # the chart's row as compared (e.g. without "5 min ago")


def user_is(user: str | None, alias: str = "") -> str:
    return f"{alias}user_id = %(user)s" if user else "TRUE"


def platform_label(code: str | None) -> str:
    return PLATFORMS.get(code or "", (code or "not recorded").title())


def month(day: date) -> date:
    return day.replace(day=1)


def grouped(q: Query, sql: str, user: str | None, labels: list[str]) -> list[Row]:
    return [dict(zip(labels, row, strict=True)) for row in q(sql, {"user": user})]


# ---- Current listening --------------------------------------------------------------------------
def recently_played(q: Query, user: str | None, p: Params) -> list[Row]:
    """Newest first; whoever sees several listeners reads each play's listener and time zone."""
    zones = dict(q(f"select user_id, timezone from gold.dim_user where {user_is(user)}", {"user": user}))
    rows = q(
        "select to_char(ended_at_local, 'Dy DD Mon, HH24:MI'), user_id, track_name, artist_name, album_name, "
        f"ms_played, platform from gold.recent_plays where {user_is(user)} "
        "order by ended_at desc",
        {"user": user},
    )
    labels = ["played_at", "track_name", "artist_name", "album_name", "duration", "platform_label"]
    return [
        dict(
            zip(
                labels,
                (played_at(r[0], r[1], zones), *r[2:5], time_played(r[5]), platform_label(r[6])),
                strict=True,
            )
        )
        for r in rows
    ]


def played_at(local: str, user_id: str, zones: dict[str, str]) -> str:
    """'Tue 01 Dec, 14:03', or 'Tue 01 Dec, 14:03 (alice, Europe/Berlin)' for whoever sees several."""
    if len(zones) <= 1:
        return local
    return f"{local} ({user_id}, {zones[user_id]})" if user_id in zones else f"{local} ({user_id})"


def time_played(ms: int | None) -> str | None:
    """m:ss, or h:mm:ss from an hour on (whole seconds played)."""
    if ms is None:
        return None
    hours, rest = divmod(ms // 1000, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def recent_timeline(hours: int) -> Callable[[Query, str | None, Params], list[Row]]:
    """Minutes per local hour and kind; whoever sees several listeners gets a series per listener (each
    listener's hours are in their own time zone: never added up across zones)."""

    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        ((listeners,),) = q(f"select count(*) from gold.dim_user where {user_is(user)}", {"user": user})
        found = q(
            "select date_trunc('hour', ended_at_local), user_id, content_type, sum(minutes_played) "
            f"from gold.recent_plays where ended_at >= now() - interval '{hours} hours' "
            f"and {user_is(user)} group by 1, 2, 3",
            {"user": user},
        )
        totals: dict[tuple, float] = {}
        for hour, user_id, kind, minutes in found:
            key = (hour, series(KINDS.get(kind, "Unknown"), user_id, listeners > 1))
            totals[key] = totals.get(key, 0.0) + float(minutes)
        return [{"ended_at_local": h, "kind": k, "minutes_played": m} for (h, k), m in totals.items()]

    return rows


def series(kind: str, user_id: str, several: bool) -> str:
    """Whoever sees several listeners (the admin) gets a series per listener, each in their own time zone."""
    return f"{user_id} · {kind}" if several else kind


def last_24_hours(q: Query, user: str | None, p: Params) -> list[Row]:
    """recent_timeline(24), plus a 0 for Music in each hour of a listener's last 24 hours (their local
    time) without listening: the chart's time axis always spans the day."""
    now = datetime.now(UTC)
    totals: dict[tuple, float] = {}
    listeners = q(f"select user_id, timezone from gold.dim_user where {user_is(user)}", {"user": user})
    several = len(listeners) > 1
    for user_id, tz in listeners:
        played = recent_timeline(24)(q, user_id, p)
        for row in played:
            key = (row["ended_at_local"], series(row["kind"], user_id, several))
            totals[key] = totals.get(key, 0.0) + row["minutes_played"]
        busy = {row["ended_at_local"] for row in played}
        hour = (
            (now - timedelta(hours=24))
            .astimezone(ZoneInfo(tz))
            .replace(tzinfo=None, minute=0, second=0, microsecond=0)
        )
        last = now.astimezone(ZoneInfo(tz)).replace(tzinfo=None, minute=0, second=0, microsecond=0)
        while hour <= last:
            if hour not in busy:
                music = (hour, series("Music", user_id, several))
                totals[music] = totals.get(music, 0.0)
            hour += timedelta(hours=1)
    return [{"ended_at_local": h, "kind": k, "minutes_played": m} for (h, k), m in totals.items()]


def recent_total(hours: int, what: str, label: str) -> Callable[[Query, str | None, Params], list[Row]]:
    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        sql = (
            f"select {what} from gold.recent_plays "
            f"where ended_at >= now() - interval '{hours} hours' and {user_is(user)}"
        )
        return grouped(q, sql, user, [label])

    return rows


AGO = re.compile(r" \((\d+ min|\d+ hours|\d+ days) ago\)$")


def without_ago(row: Row) -> Row:
    """'2026-11-23 20:58 (6 hours ago)' -> '2026-11-23 20:58': the age depends on the second it is read."""
    return {k: AGO.sub("", v) if isinstance(v, str) else v for k, v in row.items()}


def freshness(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select user_id, to_char(last_play_at at time zone timezone, 'YYYY-MM-DD HH24:MI'), "
        "to_char(last_import_at at time zone timezone, 'YYYY-MM-DD HH24:MI'), "
        "last_pull_at, plays, files_imported "
        f"from gold.user_status where {user_is(user)}"
    )
    return [
        {
            "user_id": user_id,
            "last_play": last_play or "no plays yet",
            "last_import": last_import or "no export imported yet",
            "last_pull": "never: connect Spotify on the Upload page" if pull is None else pull,
            "plays": plays,
            "files_imported": files,
        }
        for user_id, last_play, last_import, pull, plays, files in q(sql, {"user": user})
    ]


# ---- Listening history ----------------------------------------------------------------------------
# the month under way is left out of the monthly lines: a partial month would read as a drop
COMPLETE = "local_date < date_trunc('month', current_date)"


def daily_by_month(
    metrics: dict[str, str], where: str = "TRUE"
) -> Callable[[Query, str | None, Params], list[Row]]:
    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        select = ", ".join(metrics.values())
        sql = (
            f"select date_trunc('month', local_date)::date, {select} from gold.fct_plays "
            f"where {user_is(user)} and {p.period('local_date')} and {where} group by 1"
        )
        return grouped(q, sql, user, ["local_date", *metrics])

    return rows


def plays_by_month(
    column: str, label: str, names: dict[str, str], where: str = "TRUE"
) -> Callable[[Query, str | None, Params], list[Row]]:
    """Counted plays per local month and service or source, as fct_plays has them."""

    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        sql = (
            f"select date_trunc('month', local_date)::date, {column}, "
            "count(*) filter (where is_counted_play) from gold.fct_plays "
            f"where {user_is(user)} and {p.period('local_date')} and {where} group by 1, 2"
        )
        return [
            {"local_date": m, label: names.get(value, value), "counted_plays": n}
            for m, value, n in q(sql, {"user": user})
        ]

    return rows


def page_link(page: str, column: str, value: str, text: str) -> str:
    """The link a top list shows: `text`, opening the artist's or track's page with its filter set to
    `value` (the dashboard's native_filters URL parameter, in rison, with what a URL or HTML would
    misread percent-encoded)."""
    quoted = "'" + value.replace("!", "!!").replace("'", "!'") + "'"
    state = (
        f"(NATIVE_FILTER-{column}:(id:NATIVE_FILTER-{column},extraFormData:(filters:!((col:{column},op:IN,"
        f"val:!({quoted})))),filterState:(value:!({quoted}))))"
    )
    for char in '%&#+ "<>':
        state = state.replace(char, f"%{ord(char):02X}")
    shown = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return f'<a href="/superset/dashboard/{page}/?native_filters={state}">{shown}</a>'


# what the album and artist tables draw where the catalog has no picture: a grey disc, a grey bust
_SVG = "<svg xmlns='http://www.w3.org/2000/svg' width='32' height='32' viewBox='0 0 32 32'>{}</svg>"
ALBUM_PLACEHOLDER = _SVG.format(
    "<rect width='32' height='32' rx='4' fill='#e6e8ef'/><circle cx='16' cy='16' r='10' fill='#b4b9c8'/>"
    "<circle cx='16' cy='16' r='3' fill='#e6e8ef'/>"
)
ARTIST_PLACEHOLDER = _SVG.format(
    "<circle cx='16' cy='16' r='16' fill='#e6e8ef'/><circle cx='16' cy='12.5' r='5.5' fill='#b4b9c8'/>"
    "<path d='M6 27a10 8.5 0 0 1 20 0z' fill='#b4b9c8'/>"
)
PICTURES = {"album_cover": (ALBUM_PLACEHOLDER, "4px"), "artist_picture": (ARTIST_PLACEHOLDER, "50%")}


def picture(column: str, url: str | None) -> str:
    """The picture cell of a top list: the catalog's image if it is an http(s) URL (HTML-escaped), else
    the drawn placeholder as a data: URI; square corners rounded for albums, a circle for artists."""
    placeholder, radius = PICTURES[column]
    valid = url is not None and re.fullmatch(r"https?://\S+", url)
    src = html.escape(url, quote=True) if valid else "data:image/svg+xml," + quote(placeholder, safe="/:=")
    return (
        f'<img class="tt-picture" src="{src}" alt="" width="24" height="24" '
        f'style="border-radius:{radius};object-fit:cover;vertical-align:middle;background:#e6e8ef">'
    )


def link_text(link: str) -> str:
    """What a page link shows: its text, HTML entities read."""
    return html.unescape(re.sub(r"<[^>]+>", "", link))


def text_cell(text: str | None) -> str | None:
    """A name in a table that renders HTML: escaped text in a span, so markup in it reads literally."""
    return None if text is None else f"<span>{html.escape(text, quote=False)}</span>"


def linked(row: Row) -> Row:
    """A top-list row with its name as the page link the chart shows."""
    row = dict(row)
    if "track_name" in row:
        label = f"{row['track_name']} — {row['artist_name']}"
        row["track_page"] = page_link("track", "track", label, row.pop("track_name"))
        row["artist_name"] = text_cell(row["artist_name"])  # beside the link, in a table rendering HTML
    elif "artist_name" in row:
        row["artist_page"] = page_link("artist", "artist", row["artist_name"], row.pop("artist_name"))
    return row


def top_names(
    dim: str, key: str, names: list[str], links: bool = False, pictures: str | None = None
) -> Callable[[Query, str | None, Params], list[Row]]:
    """Top entities by name; `pictures`: the column showing each one's catalog image."""

    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        cols = ", ".join(f"d.{n}" for n in [*names, *(["image_url"] if pictures else [])])
        sql = (
            f"select {cols}, count(*) filter (where f.is_counted_play), sum(f.minutes_played) "
            f"from gold.fct_plays f join gold.{dim} d on d.{key} = f.{key} "
            f"where f.content_type = 'track' and {user_is(user, 'f.')} and {p.period('f.local_date')} "
            f"group by {cols}"
        )
        labels = [*names, *(["image_url"] if pictures else []), "counted_plays", "minutes_played"]
        found = grouped(q, sql, user, labels)
        if pictures:
            found = [{pictures: picture(pictures, r.pop("image_url")), **r} for r in found]
        return [linked(r) for r in found] if links else found

    return rows


def top_albums(q: Query, user: str | None, p: Params) -> list[Row]:
    """top_names of albums, the plays without an album (account data) as one group named for what it is."""
    ((unknown,),) = q("select md5('unknown')", {})
    sql = (
        "select f.album_key, d.album_name, d.artist_name, d.image_url, "
        "count(*) filter (where f.is_counted_play), sum(f.minutes_played) "
        "from gold.fct_plays f join gold.dim_album d on d.album_key = f.album_key "
        f"where f.content_type = 'track' and {user_is(user, 'f.')} and {p.period('f.local_date')} "
        "group by 1, 2, 3, 4"
    )
    return [
        {
            "album_cover": picture("album_cover", None if key == unknown else image),
            "album_name": text_cell("(album not in the export)" if key == unknown else album),
            "artist_name": text_cell("(various artists)" if key == unknown else artist),
            "counted_plays": plays,
            "minutes_played": minutes,
        }
        for key, album, artist, image, plays, minutes in q(sql, {"user": user})
    ]


def heatmap(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        # the dataset's grid is per listener of dim_user (a test's scratch user loaded without
        # `users add` has plays but no grid)
        "select local_weekday, local_hour, sum(minutes_played) from gold.fct_plays "
        f"where {user_is(user)} and {p.period('local_date')} "
        "and user_id in (select user_id from gold.dim_user) group by 1, 2"
    )
    cells = {(w, h): 0.0 for w in range(1, 8) for h in range(24)}
    for weekday, hour, minutes in q(sql, {"user": user}):
        # whole minutes (rounded half away from zero, as PostgreSQL does) in milliseconds
        cells[(weekday, hour)] = float(Decimal(minutes).quantize(Decimal(1), ROUND_HALF_UP) * 60000)
    return [
        {"hour": f"{h:02d}", "weekday": WEEKDAYS[w - 1], "time_listened": m} for (w, h), m in cells.items()
    ]


def sessions(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = f"select count(*) from gold.fct_sessions where {user_is(user)} and {p.period('local_date')}"
    return grouped(q, sql, user, ["sessions"])


def session_length(q: Query, user: str | None, p: Params) -> list[Row]:
    bounds = [(5, "     under 5 min"), (15, "    5–15 min"), (30, "   15–30 min"), (60, "  30–60 min"),
              (120, " 1–2 hours"), (math.inf, "2 hours or more")]  # fmt: skip
    counts: dict[str, int] = {}
    sql = f"select duration_minutes from gold.fct_sessions where {user_is(user)} and {p.period('local_date')}"
    for (minutes,) in q(sql, {"user": user}):
        label = next(name for bound, name in bounds if float(minutes) < bound)
        counts[label] = counts.get(label, 0) + 1
    return [{"session_length": k, "sessions": v} for k, v in counts.items()]


def skip_rate(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select date_trunc('month', local_date)::date, avg(is_skip::int) from gold.fct_plays "
        f"where {user_is(user)} and {p.period('local_date')} and {COMPLETE} group by 1"
    )
    return grouped(q, sql, user, ["local_date", "skip_rate"])


def labelled_counts(
    column: str, labels: dict[str, str], label: str, metric: str, value: str, where: str = "TRUE"
):
    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        sql = (
            f"select {column}, {value} from gold.fct_plays "
            f"where {user_is(user)} and {p.period('local_date')} and {where} group by 1"
        )
        merged: dict[str, float] = {}
        for code, number in q(sql, {"user": user}):
            name = labels(code) if callable(labels) else labels.get(code, code)
            merged[name] = merged.get(name, 0) + float(number)
        return [{label: k, metric: v} for k, v in merged.items()]

    return rows


def skip_by_start(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select reason_start, avg(is_skip::int) from gold.fct_plays "
        f"where {user_is(user)} and {p.period('local_date')} "
        "and reason_start is not null and reason_start <> 'unknown' group by 1"
    )
    return [
        {"start_reason": STARTS.get(code, code), "skip_rate": rate} for code, rate in q(sql, {"user": user})
    ]


def offline_share(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select avg(offline::int) from gold.fct_plays "
        f"where offline is not null and {user_is(user)} and {p.period('local_date')}"
    )
    return grouped(q, sql, user, ["offline_share"])


def new_artists(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select f.first_month, count(*) from gold.first_plays_by_artist f "
        "join gold.dim_artist a on a.artist_key = f.artist_key "
        f"where a.artist_type = 'artist' and {user_is(user, 'f.')} "
        f"and {p.period('f.first_local_date')} "
        "and f.first_local_date < date_trunc('month', current_date) group by 1"
    )
    return grouped(q, sql, user, ["first_month", "new_artists"])


def kinds_by_month(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select date_trunc('month', local_date)::date, content_type, sum(minutes_played) from gold.fct_plays "
        f"where content_type <> 'unknown' and {user_is(user)} and {p.period('local_date')} "
        f"and {COMPLETE} group by 1, 2"
    )
    return [
        {"local_date": m, "content_label": KINDS[k], "minutes_played": v}
        for m, k, v in q(sql, {"user": user})
    ]


def shows(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select f.content_type, "
        "case when f.content_type = 'audiobook' then t.album_name else t.artist_name end, "
        "sum(f.minutes_played), count(*) "
        "from gold.fct_plays f join gold.dim_track t on t.track_key = f.track_key "
        f"where f.content_type in ('episode', 'audiobook') and {user_is(user, 'f.')} "
        f"and {p.period('f.local_date')} "
        "group by 1, 2"
    )
    return [
        {"kind": KINDS[k], "show_or_book": name, "minutes_played": m, "plays": n}
        for k, name, m, n in q(sql, {"user": user})
    ]


# ---- Explore ----------------------------------------------------------------------------------------
def _selection(p: Params) -> str:
    picked = ["a.artist_name = %(artist)s"] if p.artist else []
    if p.track:
        picked.append("t.track_name || ' — ' || t.artist_name = %(track)s")
    return " AND ".join(picked) or "TRUE"


def explore_rows(
    select: str, group: str, labels: list[str]
) -> Callable[[Query, str | None, Params], list[Row]]:
    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        sql = (
            f"select {select} from gold.fct_plays f "
            "join gold.dim_track t on t.track_key = f.track_key "
            "join gold.dim_artist a on a.artist_key = f.artist_key "
            f"where f.content_type <> 'unknown' and {user_is(user, 'f.')} and {_selection(p)} "
            f"and {p.period('f.local_date')} {group}"
        )
        found = q(sql, {"user": user, "artist": p.artist, "track": p.track})
        return [dict(zip(labels, r, strict=True)) for r in found]

    return rows


def share_of_listening(q: Query, user: str | None, p: Params) -> list[Row]:
    totals = dict(
        q(
            "select date_trunc('month', local_date)::date, sum(ms_played) / 60000.0 from gold.fct_plays "
            f"where {user_is(user)} group by 1",
            {"user": user},
        )
    )
    picked = explore_rows(
        "date_trunc('month', f.local_date)::date, sum(f.minutes_played)",
        f"and f.{COMPLETE} group by 1",
        ["m", "minutes"],
    )(q, user, p)
    return [
        {
            "local_date": r["m"],
            "share_of_listening": r["minutes"] / totals[r["m"]] if totals[r["m"]] else None,
        }
        for r in picked
    ]


def monthly_rank(q: Query, user: str | None, p: Params) -> list[Row]:
    best: dict[tuple, int] = {}
    for table, ranked in (
        ("agg_top_tracks", "Track"),
        ("agg_top_artists", "Artist"),
        ("agg_top_albums", "Album"),
    ):
        sql = (
            f"select period_start, min(rank) from gold.{table} where period = 'month' and {user_is(user)} "
            f"and {'artist_name = %(artist)s' if p.artist else 'TRUE'} "
            f"and {p.period('period_start')} group by 1"
        )
        for period_start, rank in q(sql, {"user": user, "artist": p.artist}):
            best[(period_start, ranked)] = rank
    return [{"month": m, "ranked": r, "best_rank": v} for (m, r), v in best.items()]


FIRST = "to_char(min(f.ended_at_local), 'YYYY-MM-DD HH24:MI')"
LAST = "to_char(max(f.ended_at_local), 'YYYY-MM-DD HH24:MI')"
TOTALS = "count(*) filter (where f.is_counted_play), sum(f.minutes_played)"


def artist_summary(q: Query, user: str | None, p: Params) -> list[Row]:
    """First and last play and totals, after the artist's picture: the catalog's when the selection is
    one artist, else the placeholder."""
    rows = explore_rows(
        f"count(distinct f.artist_key), max(a.image_url), {FIRST}, {LAST}, {TOTALS}",
        "",
        ["artists", "image_url", "first_play", "last_play", "counted_plays", "minutes_played"],
    )(q, user, p)
    shown = []
    for row in rows:
        artists, url = row.pop("artists"), row.pop("image_url")
        shown.append({"artist_picture": picture("artist_picture", url if artists == 1 else None), **row})
    return shown


# ---- Year in review --------------------------------------------------------------------------------
def total(what: str, label: str) -> Callable[[Query, str | None, Params], list[Row]]:
    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        sql = f"select {what} from gold.fct_plays where {user_is(user)} and {p.period('local_date')}"
        return grouped(q, sql, user, [label])

    return rows


def longest_run(days: list[date]) -> int:
    """The most consecutive dates among `days` (sorted, distinct)."""
    best = run = 0
    for number, day in enumerate(days):
        run = run + 1 if number and (day - days[number - 1]).days == 1 else 1
        best = max(best, run)
    return best


def longest_streak(q: Query, user: str | None, p: Params) -> list[Row]:
    """Recounted from the days with a counted play (not from gold's streak table)."""
    sql = (
        "select user_id, local_date from gold.fct_plays where is_counted_play "
        f"and {user_is(user)} and {p.period('local_date')} group by 1, 2 order by 1, 2"
    )
    by_user: dict[str, list[date]] = {}
    for listener, day in q(sql, {"user": user}):
        by_user.setdefault(listener, []).append(day)
    return [{"longest_streak": max((longest_run(days) for days in by_user.values()), default=None)}]


def new_artists_discovered(q: Query, user: str | None, p: Params) -> list[Row]:
    """Artists whose first play ever (from the facts, any service) falls in the period; plays whose
    export names no artist (the unknown artist's key) discover nobody."""
    sql = (
        "select count(*) from (select f.user_id, f.artist_key, min(f.local_date) as first_day "
        "from gold.fct_plays f join gold.dim_artist a on a.artist_key = f.artist_key "
        f"where a.artist_type = 'artist' and f.artist_key <> md5('unknown') and {user_is(user, 'f.')} "
        "group by 1, 2) s "
        f"where {p.period('first_day')}"
    )
    return grouped(q, sql, user, ["new_artists"])


def compared(q: Query, user: str | None, p: Params) -> list[Row]:
    """Minutes, plays, days with music and new artists of the period and of as many days just before."""
    before = Params(p.start - (p.end - p.start), p.start) if p.start and p.end else None

    def figures(period: Params) -> dict[str, float]:
        ((minutes, plays, days),) = q(
            "select coalesce(sum(ms_played), 0) / 60000.0, count(*) filter (where is_counted_play), "
            # days with music add up per listener (the admin's are everyone's listener-days)
            "count(distinct user_id || local_date::text) filter (where is_counted_play) from gold.fct_plays "
            f"where {user_is(user)} and {period.period('local_date')}",
            {"user": user},
        )
        new = new_artists_discovered(q, user, period)[0]["new_artists"]
        return {"Minutes": minutes, "Plays": plays, "Days with music": days, "New artists": new}

    either = f"({p.period('local_date')}) or ({before.period('local_date') if before else 'FALSE'})"
    ((listeners,),) = q(
        f"select count(distinct user_id) from gold.fct_plays where {user_is(user)} and ({either})",
        {"user": user},
    )
    if not listeners:
        return []
    now, then = figures(p), figures(before) if before else None
    return [
        {
            "figure": figure,
            "this_period": value,
            "period_before": then[figure] if then else None,
            "change": value / then[figure] - 1 if then and then[figure] else None,
        }
        for figure, value in now.items()
    ]


def without_position(row: Row) -> Row:
    """The comparison table sorts by a hidden position metric; what it shows are the other columns."""
    return {k: v for k, v in row.items() if k != "position"}


def top_day(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select local_date, sum(ms_played) / 60000.0, count(*) filter (where is_counted_play) "
        f"from gold.fct_plays where {user_is(user)} and {p.period('local_date')} group by 1"
    )
    return grouped(q, sql, user, ["local_date", "minutes_played", "counted_plays"])


def most_repeated(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select t.track_name, t.artist_name, f.local_date, count(*) filter (where f.is_counted_play) "
        "from gold.fct_plays f join gold.dim_track t on t.track_key = f.track_key "
        f"where f.content_type = 'track' and {user_is(user, 'f.')} and {p.period('f.local_date')} "
        "group by 1, 2, 3"
    )
    return [
        linked(r) for r in grouped(q, sql, user, ["track_name", "artist_name", "local_date", "counted_plays"])
    ]


def by_hour(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select local_hour, sum(minutes_played) from gold.fct_plays "
        f"where {user_is(user)} and {p.period('local_date')} group by 1"
    )
    return grouped(q, sql, user, ["local_hour", "minutes_played"])


# ---- Artist and Track pages --------------------------------------------------------------------------
def selection_rows(label: str, join: str = "") -> Callable[[Query, str | None, Params], list[Row]]:
    """Plays of the picked artist or track grouped by a label (track or album), with their totals."""

    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        sql = (
            f"select {label}, {TOTALS}, {FIRST}, {LAST} from gold.fct_plays f "
            "join gold.dim_track t on t.track_key = f.track_key "
            "join gold.dim_artist a on a.artist_key = f.artist_key "
            f"{join} where f.content_type <> 'unknown' and {user_is(user, 'f.')} and {_selection(p)} "
            f"and {p.period('f.local_date')} group by 1"
        )
        found = q(sql, {"user": user, "artist": p.artist, "track": p.track})
        return [
            dict(zip(["label", "counted_plays", "minutes_played", "first_play", "last_play"], r, strict=True))
            for r in found
        ]

    return rows


def page_tracks(q: Query, user: str | None, p: Params) -> list[Row]:
    rows = selection_rows("t.track_name || ' — ' || t.artist_name")(q, user, p)
    for row in rows:
        label = row.pop("label")
        row["track_page"] = page_link("track", "track", label, label)
    return rows


def page_albums(q: Query, user: str | None, p: Params) -> list[Row]:
    rows = selection_rows(
        "al.album_name || ' — ' || al.artist_name", "join gold.dim_album al on al.album_key = f.album_key"
    )(q, user, p)
    return [{"album": row.pop("label"), **row} for row in rows]


def rank_of(table: str, ranked: str) -> Callable[[Query, str | None, Params], list[Row]]:
    """The picked artist's (or track's) best monthly rank among the listener's artists (tracks)."""

    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        picked = "artist_name = %(artist)s" if p.artist else "TRUE"
        if p.track:
            picked += " AND track_name || ' — ' || artist_name = %(track)s"
        sql = (
            f"select period_start, min(rank) from gold.{table} where period = 'month' and {user_is(user)} "
            f"and {picked} and {p.period('period_start')} group by 1"
        )
        found = q(sql, {"user": user, "artist": p.artist, "track": p.track})
        return [{"month": m, "ranked": ranked, "best_rank": r} for m, r in found]

    return rows


# ---- Global trends ---------------------------------------------------------------------------------
GLOBAL_MIN_USERS = 3  # the dbt var global_min_users: the tests run with its default


def weekly(view: str, names: list[str]) -> Callable[[Query, str | None, Params], list[Row]]:
    def rows(q: Query, user: str | None, p: Params) -> list[Row]:
        cols = ", ".join(names)
        week = "week_start = %(week)s::date" if p.week else "TRUE"
        sql = f"select rank, {cols}, listeners, counted_plays from gold.{view} where {week}"
        return [
            dict(zip(["rank", *names, "listeners", "counted_plays"], r, strict=True))
            for r in q(sql, {"week": p.week})
        ]

    return rows


def top_artist_listeners(q: Query, user: str | None, p: Params) -> list[Row]:
    sql = (
        "select week_start, artist_name, sum(listeners) from gold.global_top_artists_weekly "
        f"where rank <= 5 and week_start >= current_date - 84 and {p.period('week_start')} group by 1, 2"
    )
    return grouped(q, sql, user, ["week_start", "artist_name", "listeners"])


def listeners_sharing_a_week(q: Query, user: str | None, p: Params) -> list[Row]:
    """Everyone's weeks, whoever asks (counts only): the state Global trends is in, in words."""
    ((busiest, shared, k),) = q(
        "with weekly as (select date_trunc('week', local_date), count(distinct user_id) as n "
        "from gold.fct_plays where content_type = 'track' group by 1) "
        "select coalesce(max(n), 0), count(*) filter (where n >= %(k)s), %(k)s from weekly",
        {"k": GLOBAL_MIN_USERS},
    )
    if shared == 0:
        status = f"Not enough listeners yet ({busiest} of {k} in one week)"
    else:
        status = f"{shared} {'week' if shared == 1 else 'weeks'} with {k} or more listeners"
    return [{"status": status}]


def top_lists(tracks: str, artists: str, albums: str, limit: int) -> dict[str, Expectation]:
    """A dashboard's top tracks, artists and albums (the album tables group the plays without an album)."""
    return {
        tracks: Expectation(
            top_names("dim_track", "track_key", ["track_name", "artist_name"], links=True),
            "top",
            sort="counted_plays",
            limit=limit,
        ),
        artists: Expectation(
            top_names("dim_artist", "artist_key", ["artist_name"], links=True, pictures="artist_picture"),
            "top",
            sort="counted_plays",
            limit=limit,
        ),
        albums: Expectation(top_albums, "top", sort="counted_plays", limit=limit),
    }


# the Artist and Track pages' plays per month (the page's filter picks the artist or the track)
PAGE_PLAYS_PER_MONTH = Expectation(
    explore_rows(
        "date_trunc('month', f.local_date)::date, count(*) filter (where f.is_counted_play)",
        f"and f.{COMPLETE} group by 1",
        ["local_date", "counted_plays"],
    )
)


# ---- Genres and eras --------------------------------------------------------------------------------
# the charts read months: the period bounds the month of the play
PLAY_MONTH = "date_trunc('month', f.local_date)::date"


def genres(q: Query, user: str | None, p: Params) -> list[Row]:
    """Minutes of music per genre, from the plays and the track dimension: every genre of a track gets
    the play; a track without any is "(unknown genre)"."""
    sql = (
        "select g.genre, sum(f.ms_played) / 60000.0 from gold.fct_plays f "
        "left join gold.dim_track d on d.track_key = f.track_key "
        "left join lateral unnest(string_to_array(d.genres, ', ')) as g (genre) on true "
        f"where {user_is(user, 'f.')} and f.content_type = 'track' and {p.period(PLAY_MONTH)} group by 1"
    )
    merged: dict[str, float] = {}
    for genre, minutes in q(sql, {"user": user}):
        label = (genre or "").strip() or "(unknown genre)"
        merged[label] = merged.get(label, 0.0) + float(minutes)
    return [{"genre": label, "minutes_played": minutes} for label, minutes in merged.items()]


def decades(q: Query, user: str | None, p: Params) -> list[Row]:
    """Minutes of music per decade of the track's release date (its first four digits)."""
    sql = (
        "select d.release_date, sum(f.ms_played) / 60000.0 from gold.fct_plays f "
        "left join gold.dim_track d on d.track_key = f.track_key "
        f"where {user_is(user, 'f.')} and f.content_type = 'track' and {p.period(PLAY_MONTH)} group by 1"
    )
    merged: dict[str, float] = {}
    for released, minutes in q(sql, {"user": user}):
        year = re.match(r"\d{4}", released or "")
        label = f"{int(year.group()) // 10 * 10}s" if year else "(unknown decade)"
        merged[label] = merged.get(label, 0.0) + float(minutes)
    return [{"decade_label": label, "minutes_played": minutes} for label, minutes in merged.items()]


# ---- Compare with a friend --------------------------------------------------------------------------
def friends_and_affinity(q: Query, user: str | None, p: Params) -> list[Row]:
    """Each accepted friend's comparison, or the row saying there is none; nothing for the admin, who
    is no listener."""
    if user is None:
        return []
    friends = accepted_friends(q, user)
    if not friends:
        return [
            {
                "friend_name": NO_FRIEND,
                "affinity": None,
                "shared_artists": None,
                "shared_top_artists": None,
                "discovered_first_by_you": None,
                "discovered_first_by_friend": None,
                "friends_since": None,
            }
        ]
    rows = []
    for friend, name, since in friends:
        counted = recount(q, user, friend)
        rows.append(
            {
                "friend_name": name,
                "affinity": counted["affinity"],
                "shared_artists": counted["shared_artists"],
                "shared_top_artists": len(counted["shared"]),
                "discovered_first_by_you": sum(1 for s in counted["shared"] if s[3] == "you"),
                "discovered_first_by_friend": sum(1 for s in counted["shared"] if s[3] == "friend"),
                "friends_since": since,
            }
        )
    return rows


def shared_top_artists(q: Query, user: str | None, p: Params) -> list[Row]:
    if user is None:
        return []
    rows = []
    for friend, name, _ in accepted_friends(q, user):
        for artist, mine, theirs, who in recount(q, user, friend)["shared"]:
            ((artist_name,),) = q("select artist_name from gold.dim_artist where artist_key = %s", (artist,))
            first = {"you": "You", "friend": name}.get(who, "Both at once")
            rows.append(
                {
                    "friend_name": name,
                    "artist_name": artist_name,
                    "your_rank": mine,
                    "friend_rank": theirs,
                    "discovered_first": first,
                }
            )
    return rows


EXPECTATIONS: dict[str, Expectation] = {
    # Current listening
    "Recently played": Expectation(recently_played, "top", sort="played_at", limit=50),
    "Last 24 hours": Expectation(last_24_hours),
    "Last 7 days": Expectation(recent_timeline(24 * 7)),
    "Minutes, last 24 hours": Expectation(recent_total(24, "sum(minutes_played)", "minutes_played")),
    "Plays, last 7 days": Expectation(recent_total(24 * 7, "count(*)", "plays")),
    "Data freshness": Expectation(freshness, shown=without_ago),
    # Listening history
    "Minutes listened": Expectation(daily_by_month({"minutes_played": "sum(ms_played) / 60000.0"}, COMPLETE)),
    "Plays": Expectation(
        daily_by_month(
            {"counted_plays": "count(*) filter (where is_counted_play)", "plays": "count(*)"}, COMPLETE
        )
    ),
    "Plays by service over time": Expectation(plays_by_month("service", "service_name", SERVICES, COMPLETE)),
    "Plays by source over time": Expectation(plays_by_month("source", "source", {}, COMPLETE)),
    # the saved query context returns the counts; the browser turns them into shares of each month
    "Where you listen": Expectation(plays_by_month("service", "service_name", SERVICES)),
    **top_lists("Top tracks", "Top artists", "Top albums", limit=10),
    "When you listen": Expectation(heatmap),
    "Sessions": Expectation(sessions),
    "Session length": Expectation(session_length),
    "Skip rate": Expectation(skip_rate),
    "Skip rate by how the play started": Expectation(skip_by_start, "top", sort="skip_rate", limit=10),
    # Genres and eras
    "Top genres": Expectation(genres, "top", sort="minutes_played", limit=15),
    "Listening by release decade": Expectation(decades),
    "How plays end": Expectation(
        labelled_counts(
            "reason_end",
            ENDS,
            "end_reason",
            "plays",
            "count(*)",
            "reason_end is not null and reason_end <> 'unknown'",
        ),
        "top",
        sort="plays",
        limit=12,
    ),
    "Shuffle": Expectation(
        labelled_counts(
            "shuffle",
            {True: "Shuffle on", False: "Shuffle off"},
            "shuffle_label",
            "plays",
            "count(*)",
            "shuffle is not null",
        )
    ),
    "Platforms": Expectation(
        labelled_counts(
            "platform", platform_label, "platform_label", "minutes_played", "sum(minutes_played)"
        ),
        "top",
        sort="minutes_played",
        limit=12,
    ),
    "Countries": Expectation(
        labelled_counts(
            "conn_country",
            {},
            "conn_country",
            "minutes_played",
            "sum(minutes_played)",
            "conn_country is not null",
        )
    ),
    "Offline share": Expectation(offline_share),
    "New artists per month": Expectation(new_artists),
    "Music, podcasts and audiobooks": Expectation(kinds_by_month),
    "Top podcasts and audiobooks": Expectation(shows, "top", sort="minutes_played", limit=10),
    # Explore
    "Plays per month": Expectation(
        explore_rows(
            "date_trunc('month', f.local_date)::date, count(*) filter (where f.is_counted_play)",
            f"and f.{COMPLETE} group by 1",
            ["local_date", "counted_plays"],
        )
    ),
    "Share of your listening": Expectation(share_of_listening),
    "Monthly rank": Expectation(monthly_rank),
    "First and last play": Expectation(
        explore_rows(
            f"{FIRST}, {LAST}, {TOTALS}", "", ["first_play", "last_play", "counted_plays", "minutes_played"]
        )
    ),
    "Tracks in the selection": Expectation(
        explore_rows(
            f"t.track_name || ' — ' || t.artist_name, {TOTALS}, {FIRST}, {LAST}",
            "group by 1",
            ["track", "counted_plays", "minutes_played", "first_play", "last_play"],
        ),
        "top",
        sort="counted_plays",
        limit=100,
    ),
    # Year in review
    "Minutes in the period": Expectation(total("sum(ms_played) / 60000.0", "minutes_played")),
    "Plays in the period": Expectation(total("count(*) filter (where is_counted_play)", "counted_plays")),
    "Longest streak": Expectation(longest_streak),
    "New artists discovered": Expectation(new_artists_discovered),
    "Compared with the period before": Expectation(compared, shown=without_position),
    "Top day": Expectation(top_day, "top", sort="minutes_played", limit=1),
    "Most repeated track": Expectation(most_repeated, "top", sort="counted_plays", limit=1),
    **top_lists("Top 5 tracks", "Top 5 artists", "Top 5 albums", limit=5),
    "Listening by hour": Expectation(by_hour),
    "Listening by month": Expectation(daily_by_month({"minutes_played": "sum(ms_played) / 60000.0"})),
    # Artist and Track pages
    "First and last play of the artist": Expectation(artist_summary),
    "Plays of the artist per month": PAGE_PLAYS_PER_MONTH,
    "Artist's share of your listening": Expectation(share_of_listening),
    "Top tracks of the artist": Expectation(page_tracks, "top", sort="counted_plays", limit=100),
    "Albums of the artist": Expectation(page_albums, "top", sort="counted_plays", limit=100),
    "Artist's monthly rank": Expectation(rank_of("agg_top_artists", "Artist")),
    "First and last play of the track": Expectation(
        explore_rows(
            f"{FIRST}, {LAST}, {TOTALS}", "", ["first_play", "last_play", "counted_plays", "minutes_played"]
        )
    ),
    "Plays of the track per month": PAGE_PLAYS_PER_MONTH,
    "Track's share of your listening": Expectation(share_of_listening),
    "Track's monthly rank": Expectation(rank_of("agg_top_tracks", "Track")),
    # Global trends
    "Top tracks of the week": Expectation(
        weekly("global_top_tracks_weekly", ["track_name", "artist_name"]), "top", sort="rank", limit=20
    ),
    "Top artists of the week": Expectation(
        weekly("global_top_artists_weekly", ["artist_name"]), "top", sort="rank", limit=20
    ),
    "Listeners of the top artists": Expectation(top_artist_listeners),
    "Listeners sharing a week": Expectation(listeners_sharing_a_week),
    # Compare with a friend
    "Friends and affinity": Expectation(friends_and_affinity),
    "Shared top artists": Expectation(shared_top_artists),
}


# ---- comparing -------------------------------------------------------------------------------------
def normal(value: Any) -> Any:
    """Superset's JSON form: numbers as float, dates and timestamps as epoch milliseconds (UTC)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal | int | float):
        return float(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp() * 1000
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000
    return value


def _key(row: Row) -> tuple:
    return tuple(sorted((k, v) for k, v in row.items() if not isinstance(v, float)))


def _same(got: Row, want: Row) -> bool:
    if got.keys() != want.keys():
        return False
    for k, v in want.items():
        if isinstance(v, float) and isinstance(got[k], float):
            if not math.isclose(got[k], v, rel_tol=1e-9, abs_tol=1e-6):
                return False
        elif got[k] != v:
            return False
    return True


def compare(name: str, expectation: Expectation, got_rows: list[Row], want_rows: list[Row]) -> None:
    shown = expectation.shown or (lambda row: row)
    got = [{k: normal(v) for k, v in shown(r).items()} for r in got_rows]
    want = [{k: normal(v) for k, v in r.items()} for r in want_rows]
    by_key: dict[tuple, list[Row]] = {}
    for row in want:
        by_key.setdefault(_key(row), []).append(row)
    unmatched = []
    for row in got:
        candidates = by_key.get(_key(row), [])
        match = next((c for c in candidates if _same(row, c)), None)
        if match is None:
            unmatched.append(row)
        elif expectation.mode == "all":
            candidates.remove(match)
    assert not unmatched, f"{name}: rows not in gold: {unmatched[:3]} (gold has e.g. {want[:3]})"
    if expectation.mode == "all":
        left = [r for rows in by_key.values() for r in rows]
        assert not left, f"{name}: gold rows missing from the chart: {left[:3]}"
        return
    sort, limit = expectation.sort, expectation.limit or len(want)
    assert len(got) == min(limit, len(want)), f"{name}: {len(got)} rows, expected {min(limit, len(want))}"
    if sort == "played_at":  # newest first: the same sequence of times (rows tied on a time may swap)
        assert [r[sort] for r in got] == [r[sort] for r in want[:limit]], f"{name}: not newest first"
    elif sort == "rank":
        assert [r[sort] for r in got] == sorted(r[sort] for r in got), f"{name}: not in rank order"
    else:
        wanted = sorted((r[sort] for r in want), reverse=True)[:limit]
        runs = [r[sort] for r in got]
        assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(runs, wanted, strict=True)), (
            f"{name}: {sort} runs {runs} instead of {wanted}"
        )
