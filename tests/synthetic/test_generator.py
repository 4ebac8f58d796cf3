"""The synthetic exports must look like the real samples in shared/data/real, byte style included."""

from __future__ import annotations

import collections
import itertools
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tracktracker_assets.synthetic import (
    ALL_FORMATS,
    VINTAGES,
    Play,
    UserProfile,
    build_catalog,
    generate_demo,
    generate_user_plays,
    iter_plays,
    make_user,
    play_to_extended,
    write_export,
    write_overlapping_exports,
)
from tracktracker_assets.synthetic.plays import MAX_PAUSE_MS, MIN_SESSION_GAP_MS, SKIP_REASONS

REPO = Path(__file__).resolve().parents[2]
REAL = Path(os.environ.get("TRACKTRACKER_REAL_DATA", "/work/shared/data/real"))
SEED = 7
START, END = date(2022, 6, 1), date(2025, 3, 1)  # spans the platform cutover, audiobooks and video-era rules

# Real sample files per format; their first row fixes the expected key order.
REAL_FILES = {
    "endsong": [
        "spotify-extended/CandidlyRed--endsong.json",
        "spotify-extended/jayeshironside--endvideo.json",
    ],
    "audio2024": [
        "spotify-extended/Th1nhNg0--Streaming_History_Audio_2024_4.json",
        "spotify-extended/mtas0--Streaming_History_Audio_2023_2.json",
        "spotify-extended/mtas0--Streaming_History_Video_2019-2023.json",
    ],
    "late2024": ["spotify-extended/mica-92--Streaming_History_Audio_2024_4.json"],
    "current": [
        "spotify-extended/Efrrowini--Streaming_History_Audio_2023.json",
        "spotify-extended/Efrrowini--Streaming_History_Video_2026.json",
        "spotify-extended/Khushi-203006--Streaming_History_Audio_2023.json",
        "spotify-extended/Khushi-203006--Streaming_History_Video_2024.json",
        "spotify-extended/Khushi-203006--Streaming_History_Video_2025.json",
    ],
    "account:music": ["spotify-account/hobbies-w-erin--StreamingHistory_music_0.json"],
    "account:podcast": ["spotify-account/hobbies-w-erin--StreamingHistory_podcast_0.json"],
    "account:audiobook": ["spotify-account/hobbies-w-erin--StreamingHistory_audiobook_0.json"],
    "account-legacy": ["spotify-account/vnegi10--StreamingHistory0.json"],
}
NULLABLE = {type(None)}
TYPES: dict[str, set[type]] = {  # what each extended-history key may hold (checked on real files too)
    "ts": {str},
    "username": {str},
    "platform": {str},
    "ms_played": {int},
    "conn_country": {str},
    "ip_addr_decrypted": {str} | NULLABLE,
    "user_agent_decrypted": {str},
    "ip_addr": {str},
    "reason_start": {str},
    "reason_end": {str},
    "shuffle": {bool},
    "skipped": {bool} | NULLABLE,
    "offline": {bool} | NULLABLE,
    "offline_timestamp": {int} | NULLABLE,
    "incognito_mode": {bool},
}
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
END_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")
LEGACY_PLATFORM = re.compile(
    r"(Android(-tablet)? OS \d+ API \d+ \(.+\)|iOS [\d.]+ \(.+\)|Windows 10 \(.+\)"
    r"|OS X [\d.]+ \[.+\]|Partner .+)"
)
MODERN_PLATFORMS = {"android", "ios", "windows", "osx", "cast"}


def real_rows(fmt: str) -> list[list[dict[str, Any]]]:
    if not REAL.is_dir():
        pytest.skip(f"real samples not found at {REAL}")
    return [json.loads((REAL / name).read_bytes()) for name in REAL_FILES[fmt]]


def rows_of(files: list[Path]) -> list[dict[str, Any]]:
    return [row for f in files if f.suffix == ".json" for row in json.loads(f.read_bytes())]


@pytest.fixture(scope="module")
def user() -> UserProfile:
    return make_user(
        "test-listener",
        seed=SEED,
        tz="America/Sao_Paulo",
        since=date(2022, 1, 1),
        plays_per_day=30,
        podcasts=True,
        audiobooks=True,
    )


@pytest.fixture(scope="module")
def plays(user: UserProfile) -> list[Play]:
    return generate_user_plays(user, START, END)


@pytest.fixture(scope="module")
def exports(user: UserProfile, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("exports")
    return {fmt: write_export(user, root / fmt, fmt, START, END) for fmt in ALL_FORMATS}


def files_for(exports: dict[str, list[Path]], fmt: str) -> list[Path]:
    if fmt.startswith("account:"):
        kind = fmt.split(":")[1]
        return [f for f in exports["account"] if f"_{kind}_" in f.name]
    return exports[fmt]


# --- shape: keys, order, types, serialisation ------------------------------------------------------


@pytest.mark.parametrize("fmt", list(REAL_FILES))
def test_key_order_matches_real_files(exports: dict[str, list[Path]], fmt: str) -> None:
    real = real_rows(fmt)
    expected = {tuple(rows[0]) for rows in real}
    assert len(expected) == 1, f"real {fmt} files disagree on keys: {expected}"
    assert all(tuple(row) in expected for rows in real for row in rows)
    generated = rows_of(files_for(exports, fmt))
    assert generated, f"no {fmt} rows generated"
    assert {tuple(row) for row in generated} == expected
    if fmt in VINTAGES:
        assert VINTAGES[fmt].fields in expected


@pytest.mark.parametrize("fmt", list(VINTAGES))
def test_value_types_follow_the_real_spec(exports: dict[str, list[Path]], fmt: str) -> None:
    for rows in [*real_rows(fmt), rows_of(exports[fmt])]:
        for row in rows:
            for key, value in row.items():
                allowed = TYPES.get(key, {str} | NULLABLE)  # content fields: a name or null
                assert type(value) in allowed, (fmt, key, value)


@pytest.mark.parametrize("fmt", ["account:music", "account:podcast", "account:audiobook", "account-legacy"])
def test_account_value_types(exports: dict[str, list[Path]], fmt: str) -> None:
    for rows in [*real_rows(fmt), rows_of(files_for(exports, fmt))]:
        for row in rows:
            assert END_TIME.fullmatch(row["endTime"])
            assert type(row["msPlayed"]) is int
            assert all(type(v) is str for k, v in row.items() if k != "msPlayed")


def test_files_are_one_line_arrays_with_the_real_separators(exports: dict[str, list[Path]]) -> None:
    real_raw = (REAL / REAL_FILES["late2024"][0]).read_bytes() if REAL.is_dir() else None
    samples = [f for files in exports.values() for f in files]
    for raw in [real_raw, *(f.read_bytes() for f in samples)]:
        if raw is None:
            continue
        assert raw.startswith(b"[{") and raw.endswith(b"}]") and b"\n" not in raw
        assert raw == json.dumps(json.loads(raw), ensure_ascii=False).encode()  # ", " / ": ", raw UTF-8


def test_ts_is_utc_second_precision(exports: dict[str, list[Path]]) -> None:
    for fmt in VINTAGES:
        assert all(TS.fullmatch(row["ts"]) for row in rows_of(exports[fmt]))


# --- vintage quirks ------------------------------------------------------------------------------


def _offline_lag_s(row: dict[str, Any], unit_ms: bool) -> float:
    """Seconds between offline_timestamp and the start of playback (ts - ms_played)."""
    ots = row["offline_timestamp"]
    assert (ots > 10**12) == unit_ms, row
    end = datetime.strptime(row["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return end - row["ms_played"] / 1000 - (ots / 1000 if unit_ms else ots)


@pytest.mark.parametrize("fmt", list(VINTAGES))
def test_offline_timestamp_is_ms_in_endsong_and_s_later(exports: dict[str, list[Path]], fmt: str) -> None:
    unit_ms = fmt == "endsong"
    for rows in [*real_rows(fmt)[:1], rows_of(exports[fmt])]:  # first real file: audio, has values
        lags = [_offline_lag_s(r, unit_ms) for r in rows if r["offline_timestamp"]]
        assert len(lags) > 0.9 * len(rows)
        near = sum(-600 <= lag <= 3600 for lag in lags) / len(lags)
        assert near > 0.7 and all(-86_400 < lag < 4 * 86_400 for lag in lags)


@pytest.mark.parametrize("fmt", list(VINTAGES))
def test_skipped_follows_reason_end_like_real_files(exports: dict[str, list[Path]], fmt: str) -> None:
    for rows in [*real_rows(fmt), rows_of(exports[fmt])]:
        assert all(r["skipped"] is None or r["skipped"] == (r["reason_end"] in SKIP_REASONS) for r in rows)
    skipped = collections.Counter(r["skipped"] for r in rows_of(exports[fmt]))
    if fmt == "endsong":
        assert skipped[None] > 0.9 * sum(skipped.values()) and skipped[True] + skipped[False] > 0
    else:
        assert skipped[None] == 0 or fmt != "late2024"


def test_reason_and_platform_values_come_from_real_sets(exports: dict[str, list[Path]]) -> None:
    real = [r for fmt in VINTAGES for rows in real_rows(fmt) for r in rows]
    for key in ("reason_start", "reason_end"):
        generated = {r[key] for fmt in VINTAGES for r in rows_of(exports[fmt])}
        assert generated <= {r[key] for r in real}, key
        assert {"trackdone", "fwdbtn"} <= generated
    cutover = "2022-12-15"
    for fmt in VINTAGES:
        for r in rows_of(exports[fmt]):
            if r["ts"] >= cutover or (r["master_metadata_track_name"] is None and r["episode_name"] is None):
                assert r["platform"] in MODERN_PLATFORMS or LEGACY_PLATFORM.fullmatch(r["platform"])
            else:
                assert LEGACY_PLATFORM.fullmatch(r["platform"]), r["platform"]


def test_endsong_leaves_the_last_weeks_without_content(exports: dict[str, list[Path]]) -> None:
    rows = rows_of(exports["endsong"])
    blank = [r for r in rows if r["master_metadata_track_name"] is None and r["episode_name"] is None]
    recent = [r for r in blank if r["ts"] >= "2025-02-15"]
    assert recent and all(r["ip_addr_decrypted"] is None and isinstance(r["skipped"], bool) for r in recent)
    assert all(r["ts"] >= "2025-02-14" for r in blank if r["ip_addr_decrypted"] is None)


def test_episodes_audiobooks_and_video_files(exports: dict[str, list[Path]]) -> None:
    rows = rows_of(exports["current"])
    episodes = [r for r in rows if r["spotify_episode_uri"]]
    books = [r for r in rows if r["audiobook_uri"]]
    assert 0.02 < len(episodes) / len(rows) < 0.3
    assert all(r["spotify_track_uri"] is None and r["episode_show_name"] for r in episodes)
    assert books and all(r["ts"] >= "2023-10" and r["spotify_track_uri"] is None for r in books)
    assert not any(
        r.get("audiobook_uri") for fmt in ("endsong", "audio2024", "late2024") for r in rows_of(exports[fmt])
    )
    video = [f for f in exports["late2024"] if "_Video_" in f.name]
    assert video and all(r["offline"] is None and r["offline_timestamp"] is None for r in rows_of(video))
    assert any(f.name == "endvideo.json" for f in exports["endsong"])


def test_identifiers_privacy_and_names(exports: dict[str, list[Path]]) -> None:
    rows = rows_of(exports["audio2024"])
    by_uri: dict[str, tuple[str, str, str]] = {}
    for r in rows:
        assert r["username"].startswith("fake-")
        assert re.fullmatch(r"(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}", r["ip_addr_decrypted"])
        if r["spotify_track_uri"]:
            assert re.fullmatch(r"spotify:track:[0-9A-Za-z]{22}", r["spotify_track_uri"])
            names = (
                r["master_metadata_track_name"],
                r["master_metadata_album_artist_name"],
                r["master_metadata_album_album_name"],
            )
            assert by_uri.setdefault(r["spotify_track_uri"], names) == names  # URIs stable per track
        if r["spotify_episode_uri"]:
            assert re.fullmatch(r"spotify:episode:[0-9A-Za-z]{22}", r["spotify_episode_uri"])
    catalog = " ".join(t.name + t.artist + t.album for t in build_catalog(SEED).tracks)
    for pattern in (
        r"[\u3040-\u30ff\u4e00-\u9fff]",
        r"[\u0900-\u097f]",
        r"[\u0400-\u04ff]",
        r"[éçãõüñ]",
        r"[\U0001F300-\U0001FAFF]",
        r",",
        r'"',
        r"\{",
    ):
        assert re.search(pattern, catalog), pattern


# --- listening behaviour -------------------------------------------------------------------------


def test_sessions_are_back_to_back_plays_with_gaps_between(plays: list[Play]) -> None:
    assert all(a.end_ms <= b.end_ms for a, b in itertools.pairwise(plays))
    inside, quick = 0, 0
    for a, b in itertools.pairwise(plays):
        if a.session == b.session:
            slack = (b.end_ms - a.end_ms) - b.ms_played  # ts = previous ts + ms_played (+ latency/pause)
            assert 0 <= slack <= MAX_PAUSE_MS + 1000
            inside += 1
            quick += slack < 1000
        else:
            assert b.start_ms - a.end_ms >= MIN_SESSION_GAP_MS
    assert quick / inside > 0.85
    sessions = collections.Counter(p.session for p in plays)
    assert 5 < len(plays) / len(sessions) < 20


def test_skip_bursts_end_in_the_same_second_with_distinct_ms(plays: list[Play]) -> None:
    same = [(a, b) for a, b in itertools.pairwise(plays) if a.end_ms // 1000 == b.end_ms // 1000]
    assert same and any(a.ms_played != b.ms_played for a, b in same)
    keys = collections.Counter((p.end_ms // 1000, p.content.uri, p.ms_played) for p in plays)
    assert max(keys.values()) == 1  # distinct events never collapse into one
    short = sum(p.ms_played < 30_000 for p in plays) / len(plays)
    assert 0.15 < short < 0.5
    assert collections.Counter(p.reason_end for p in plays).most_common(1)[0][0] == "trackdone"


def test_daily_rhythm_and_weekends(user: UserProfile, plays: list[Play]) -> None:
    zone = ZoneInfo(user.tz)
    local = [datetime.fromtimestamp(p.end_ms / 1000, zone) for p in plays]
    hours = collections.Counter(t.hour for t in local)
    assert sum(hours[h] for h in range(2, 6)) / len(local) < 0.06
    assert sum(hours[h] for h in range(17, 23)) / len(local) > 0.25
    morning = [t for t in local if 7 <= t.hour < 9]
    weekday_share = sum(t.weekday() < 5 for t in morning) / len(morning)
    assert weekday_share > 5 / 7 + 0.05  # commute listening is a weekday thing
    home = sum(p.country == user.country for p in plays) / len(plays)
    assert home > 0.95


def test_popularity_is_skewed_and_shared_across_users() -> None:
    counts: collections.Counter[str] = collections.Counter()
    listeners: dict[str, set[str]] = collections.defaultdict(set)
    for i in range(8):
        u = make_user(f"skew-{i}", seed=SEED, since=date(2023, 1, 1), plays_per_day=30)
        for p in iter_plays(u, date(2023, 6, 1), date(2023, 11, 1)):
            if p.kind == "track":
                counts[p.content.uri] += 1
                listeners[p.content.uri].add(u.user_id)
    ranked = [n for _, n in counts.most_common()]
    top1 = sum(ranked[: len(ranked) // 100]) / sum(ranked)
    assert top1 > 0.1, top1  # uniform would be 0.01
    assert sum(ranked[: len(ranked) // 10]) / sum(ranked) > 0.35
    shared = sum(len(listeners[uri]) > 1 for uri, _ in counts.most_common(200))
    assert shared > 20


# --- determinism, ranges, overlap, splitting -----------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    def export(seed: int, name: str) -> list[bytes]:
        u = make_user("det", seed=seed, tz="Asia/Tokyo", since=date(2024, 1, 1), plays_per_day=20)
        return [
            f.read_bytes()
            for f in write_export(u, tmp_path / name, "endsong", date(2024, 1, 1), date(2024, 4, 1))
        ]

    assert export(1, "a") == export(1, "b")
    assert export(1, "a") != export(2, "c")


def test_a_range_does_not_depend_on_what_else_was_generated(user: UserProfile) -> None:
    whole = generate_user_plays(user, date(2023, 1, 1), date(2023, 3, 1))
    part = generate_user_plays(user, date(2023, 2, 1), date(2023, 3, 1))
    cut = int(datetime(2023, 2, 1, tzinfo=UTC).timestamp() * 1000)
    assert part == [p for p in whole if p.end_ms >= cut]


@pytest.mark.parametrize("fmt", ["current", "account"])
def test_overlapping_exports_repeat_identical_rows(user: UserProfile, tmp_path: Path, fmt: str) -> None:
    first, second = write_overlapping_exports(
        user, tmp_path, fmt, (date(2023, 1, 1), date(2023, 9, 1)), (date(2023, 6, 1), date(2024, 2, 1))
    )
    key = "ts" if fmt == "current" else "endTime"
    overlap = ("2023-06-01", "2023-09-01")

    def in_overlap(files: list[Path]) -> list[str]:
        return sorted(
            json.dumps(r, ensure_ascii=False)
            for r in rows_of(files)
            if overlap[0] <= r[key][:10] < overlap[1]
        )

    a, b = in_overlap(first), in_overlap(second)
    assert len(a) > 1000 and a == b
    assert {f.parent.name for f in first} != {f.parent.name for f in second}


def test_files_split_by_size_and_named_like_spotify(user: UserProfile, tmp_path: Path) -> None:
    files = write_export(user, tmp_path / "b", "audio2024", START, END, max_bytes=2_000_000)
    audio = [f for f in files if "_Audio_" in f.name]
    assert len(audio) > 3
    for n, f in enumerate(audio):
        m = re.fullmatch(r"Streaming_History_Audio_(\d{4})(?:-(\d{4}))?_(\d+)\.json", f.name)
        assert m and int(m.group(3)) == n
        assert f.stat().st_size <= 2_000_000
        years = {r["ts"][:4] for r in json.loads(f.read_bytes())}
        assert min(years) == m.group(1) and max(years) == (m.group(2) or m.group(1))
    assert len(rows_of(files)) == len(rows_of(write_export(user, tmp_path / "c", "audio2024", START, END)))
    # newest vintage: split per calendar year, _N only where a year needs several files
    yearly = [f.name for f in write_export(user, tmp_path / "d", "current", START, END, max_bytes=6_000_000)]
    assert {
        "Streaming_History_Audio_2022.json",
        "Streaming_History_Audio_2023_0.json",
        "Streaming_History_Audio_2023_1.json",
        "Streaming_History_Video_2023.json",
    } <= set(yearly)


def test_account_files_hold_at_most_10000_rows(tmp_path: Path) -> None:
    heavy = make_user("heavy", seed=SEED, since=date(2024, 1, 1), plays_per_day=70, podcasts=False)
    files = write_export(heavy, tmp_path, "account", date(2024, 1, 1), date(2024, 12, 1))
    music = sorted((f for f in files if "_music_" in f.name), key=lambda f: f.name)
    sizes = [len(json.loads(f.read_bytes())) for f in music]
    assert [f.name for f in music][:2] == ["StreamingHistory_music_0.json", "StreamingHistory_music_1.json"]
    assert sizes[0] == 10_000 and all(s <= 10_000 for s in sizes)
    ends = [r["endTime"] for r in rows_of(music)]
    assert ends == sorted(ends)


def test_zip_is_laid_out_like_spotify(user: UserProfile, tmp_path: Path) -> None:
    span = (date(2024, 1, 1), date(2024, 3, 1))
    [extended] = write_export(user, tmp_path / "x", "late2024", *span, as_zip=True)
    [account] = write_export(user, tmp_path / "y", "account", *span, as_zip=True)
    with zipfile.ZipFile(extended) as z:
        names = z.namelist()
        assert all(n.startswith("Spotify Extended Streaming History/") for n in names)
        pdf = z.read("Spotify Extended Streaming History/ReadMeFirst_ExtendedStreamingHistory.pdf")
        assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    with zipfile.ZipFile(account) as z:
        names = set(z.namelist())
        assert {
            "Spotify Account Data/StreamingHistory_music_0.json",
            "Spotify Account Data/Userdata.json",
            "Spotify Account Data/Playlist1.json",
        } <= names
        assert "playlists" in json.loads(z.read("Spotify Account Data/Playlist1.json"))


def test_play_to_extended_drops_what_a_vintage_cannot_show(plays: list[Play]) -> None:
    book = next(p for p in plays if p.kind == "audiobook")
    assert play_to_extended(book, "late2024") is None
    assert play_to_extended(book, "current")["audiobook_title"] == book.content.book  # type: ignore[index]
    old_video = plays[0]._replace(video=True, end_ms=int(datetime(2020, 5, 1, tzinfo=UTC).timestamp() * 1000))
    row = play_to_extended(old_video, "audio2024")
    assert row and row["spotify_track_uri"] is None and row["skipped"] is None


# --- presets and scale ---------------------------------------------------------------------------


def test_demo_preset(tmp_path: Path) -> None:
    demo = generate_demo(tmp_path)
    assert {u: (d.tz, d.format) for u, d in demo.items()} == {
        "demo-ana": ("Europe/Lisbon", "current"),
        "demo-kenji": ("Asia/Tokyo", "endsong"),
        "demo-sam": ("America/Chicago", "account"),
    }
    for d in demo.values():
        assert d.display_name and d.files and all(f.is_file() for f in d.files)
        rows = rows_of(d.files)
        distinct = {json.dumps(r, ensure_ascii=False) for r in rows}  # sam's two exports overlap
        assert 15_000 <= len(distinct) <= 30_000, (d.user_id, len(distinct))
    # ana and sam listen up to the moment of generation, with a day of listening just before it (so
    # Current listening has something to show); kenji's old-vintage export ends in 2025, a year after
    # the others begin (the weeks Global trends can show)
    now = datetime.now(UTC)
    for user_id, fmt in (("demo-ana", "%Y-%m-%dT%H:%M:%SZ"), ("demo-sam", "%Y-%m-%d %H:%M")):
        ends = [
            datetime.strptime(r.get("ts") or r["endTime"], fmt).replace(tzinfo=UTC)
            for r in rows_of(demo[user_id].files)
        ]
        assert max(ends) <= now and sum(1 for e in ends if e > now - timedelta(hours=24)) >= 10, user_id
    kenji = sorted(r["ts"] for r in rows_of(demo["demo-kenji"].files))
    assert kenji[0] < "2024-06-01" and "2025-06-01" < kenji[-1] < "2025-12-11"


def test_demo_is_the_same_for_the_same_moment(tmp_path: Path) -> None:
    moment = datetime(2030, 5, 17, 12, 30, tzinfo=UTC)
    first, second = generate_demo(tmp_path / "a", moment), generate_demo(tmp_path / "b", moment)
    for user_id in first:
        assert [f.read_bytes() for f in first[user_id].files] == [
            f.read_bytes() for f in second[user_id].files
        ]


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
    return int(line.split()[1]) / 1024 if line else None


def test_cli_streams_within_a_memory_bound(tmp_path: Path) -> None:
    """300k plays (~200 MB of JSON) in a subprocess; holding plays or rows would blow far past the bound.

    The peak is read from /proc (VmHWM) by polling from outside and by the child itself: ru_maxrss is
    no good here because Linux carries the forking pytest process's peak across execve.
    """
    out = tmp_path / "bench"
    cmd = [
        sys.executable,
        str(REPO / "bench" / "generate.py"),
        "--users",
        "4",
        "--plays",
        "300000",
        "--out",
        str(out),
        "--seed",
        "3",
        "--vintages",
        "all",
        "--quiet",
    ]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    polled = 0.0
    while child.poll() is None:
        polled = max(polled, _vm_hwm_mb(child.pid) or 0.0)
        time.sleep(0.05)
    stdout, stderr = child.communicate()
    assert child.returncode == 0, stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["plays"] == 300_000 and report["bytes"] > 150_000_000
    assert 0 < polled < 170 and report["peak_rss_mb"] < 170, (polled, report)
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(u["plays"] for u in manifest["users"]) == 300_000
