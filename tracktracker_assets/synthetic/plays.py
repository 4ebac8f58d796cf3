"""Plays: one listening day of one user at a time (_DayMaker), streamed by iter_plays."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import NamedTuple

from tracktracker_assets.synthetic._rand import _mix, _pick, _poisson, _zipf_cum
from tracktracker_assets.synthetic._time import (
    AUDIOBOOKS_FROM_MS,
    DAY_START_HOUR,
    HOUR_MS,
    PLATFORM_CUTOVER_MS,
    _to_ms,
    _ts,
)
from tracktracker_assets.synthetic.catalog import Catalog, Chapter, Episode, Track
from tracktracker_assets.synthetic.listeners import (
    _SKIP_FACTOR,
    _WINDOW_CUM,
    WINDOW_SIZE,
    WINDOW_STEP,
    Device,
    UserProfile,
)

MIN_SESSION_GAP_MS = 20 * 60_000  # gaps above typical 30-min sessionisation once the random part is added
MAX_PAUSE_MS = 8 * 60_000
MAX_SESSION_DELAY_MS = 45 * 60_000  # pushing colliding sessions further would pile them up after midnight
EPISODE_ROWS = 3.5  # mean rows of a podcast session (browsing rows included)

SKIP_REASONS = frozenset({"fwdbtn", "backbtn", "endplay"})  # real exports set skipped=true for exactly these


class Play(NamedTuple):
    """One listening event, independent of how a given export vintage will render it."""

    user_id: str
    session: int  # unique per user: listening-day ordinal * 100 + session number
    start_ms: int  # playback start, UTC epoch ms
    end_ms: int  # playback end (the exports' ts); end - start - ms_played = time paused
    ms_played: int
    content: Track | Episode | Chapter
    device: Device
    country: str
    reason_start: str
    reason_end: str
    shuffle: bool
    offline: bool
    offline_ms: int  # what offline_timestamp reports, in ms
    incognito: bool
    video: bool

    @property
    def kind(self) -> str:
        return self.content.kind

    @property
    def ts(self) -> str:
        return _ts(self.end_ms)

    @property
    def skipped(self) -> bool:
        return self.reason_end in SKIP_REASONS

    @property
    def platform(self) -> str:
        return _platform(self.device, self.end_ms, False)


def _platform(dev: Device, end_ms: int, force_modern: bool) -> str:
    if force_modern or end_ms >= PLATFORM_CUTOVER_MS:
        return dev.modern
    return dev.legacy_new if end_ms >= dev.upgrade_ms else dev.legacy_old


_NEXT_START = {
    "trackdone": "trackdone",
    "fwdbtn": "fwdbtn",
    "backbtn": "backbtn",
    "trackerror": "trackerror",
    "remote": "remote",
    "unknown": "unknown",
}
_FIRST_STARTS = ("appload", "appload", "clickrow", "clickrow", "clickrow", "playbtn", "playbtn", "trackdone")
_SESSION_ENDS = (
    "endplay",
    "endplay",
    "endplay",
    "logout",
    "logout",
    "trackdone",
    "trackdone",
    "unexpected-exit-while-paused",
    "unexpected-exit",
)
_EPISODE_ENDS = ("endplay", "endplay", "logout", "logout", "unexpected-exit-while-paused")


class _DayMaker:
    """Generates one listening day of one user; all randomness comes from the (user, day) RNG."""

    def __init__(self, user: UserProfile) -> None:
        self.u = user
        self.cat = user.catalog
        self.tracks = user.catalog.tracks
        self.zone = user.zone
        self.since_ord = user.since.toordinal()
        sigma = 0.45
        weekly = (5 + 2 * user.weekend_factor) / 7
        # E[plays/day] == plays_per_day; 0.93 corrects for sessions cut at the end of the day
        self.day_mean = user.plays_per_day / ((1 - user.p_off) * math.exp(sigma**2 / 2) * weekly * 0.93)
        self.sigma = sigma
        u_rows = user.podcast_p * EPISODE_ROWS + (1 - user.podcast_p) * user.session_len
        self.rows_per_session = u_rows
        # heavy listeners lose more planned sessions to collisions (see day()); measured, roughly linear
        self.day_mean *= 1 + 0.045 * user.plays_per_day / u_rows
        self.phone = next(d for d in user.devices if d.kind == "phone")
        self.desktop = next((d for d in user.devices if d.kind == "desktop"), None)
        self.cast = next((d for d in user.devices if d.kind == "cast"), None)
        self.tablet = next((d for d in user.devices if d.kind == "tablet"), None)

    def window_ms(self, day_ord: int) -> int:
        d = date.fromordinal(day_ord)
        local = datetime(d.year, d.month, d.day, DAY_START_HOUR, tzinfo=self.zone)
        return int(local.timestamp()) * 1000

    def day(self, day_ord: int) -> list[Play]:
        u = self.u
        if day_ord < self.since_ord:
            return []
        rng = random.Random(_mix(u.key, day_ord))
        rnd = rng.random
        if rnd() < u.p_off:
            return []
        weekend = date.fromordinal(day_ord).weekday() >= 5
        mean = self.day_mean * (u.weekend_factor if weekend else 1.0) * rng.lognormvariate(0.0, self.sigma)
        n_sessions = _poisson(rng, mean / self.rows_per_session)
        if not n_sessions:
            return []
        w0, w1 = self.window_ms(day_ord), self.window_ms(day_ord + 1)
        hours = u.weekend_cum if weekend else u.weekday_cum
        starts = sorted(_pick(rnd, hours) * HOUR_MS + int(rnd() * HOUR_MS) for _ in range(n_sessions))
        country = self._country(day_ord)
        month = (day_ord - self.since_ord) // 30
        plays: list[Play] = []
        t = w0
        for k, offset in enumerate(starts):
            start = w0 + offset
            if plays and start < t + MIN_SESSION_GAP_MS:
                pushed = t + MIN_SESSION_GAP_MS + int(rng.expovariate(1 / (25 * 60_000)))
                if pushed - start > MAX_SESSION_DELAY_MS:
                    continue  # still listening when this session was due: it never happens
                start = pushed
            if start >= w1:
                break
            hour = (DAY_START_HOUR + (start - w0) // HOUR_MS) % 24
            sid = day_ord * 100 + k
            t = self._session(rng, plays, start, w1, sid, country, month, weekend, hour, day_ord)
        return plays

    def _country(self, day_ord: int) -> str:
        for first, last, dest in self.u.trips:
            if first <= day_ord <= last:
                return dest
        return self.u.country

    def _device(self, rnd: Callable[[], float], weekend: bool, hour: int) -> Device:
        if self.desktop and not weekend and 9 <= hour < 18 and rnd() < self.u.desk_p:
            return self.desktop
        if self.cast and hour >= 18 and rnd() < 0.35:
            return self.cast
        if self.tablet and rnd() < 0.15:
            return self.tablet
        return self.phone

    def _session(
        self,
        rng: random.Random,
        out: list[Play],
        start: int,
        w1: int,
        sid: int,
        country: str,
        month: int,
        weekend: bool,
        hour: int,
        day_ord: int,
    ) -> int:
        u, rnd = self.u, rng.random
        dev = self._device(rnd, weekend, hour)
        x = rnd()
        if x < u.podcast_p and dev.kind != "cast":
            return self._episodes(rng, out, start, w1, sid, country, dev, day_ord)
        if x < u.podcast_p + u.audiobook_p and start >= AUDIOBOOKS_FROM_MS and dev.kind == "phone":
            return self._chapters(rng, out, start, w1, sid, country, dev, month, day_ord)
        return self._music(rng, out, start, w1, sid, country, dev, month)

    def _music(
        self,
        rng: random.Random,
        out: list[Play],
        start: int,
        w1: int,
        sid: int,
        country: str,
        dev: Device,
        month: int,
    ) -> int:
        u, rnd, tracks = self.u, rng.random, self.tracks
        n = 1 + int(rng.expovariate(1 / (u.session_len - 1)))
        shuffle = rnd() < u.shuffle_p
        offline = dev.kind == "phone" and rnd() < u.offline_p
        incognito = rnd() < u.incognito_p
        album_next = album_end = -1
        if rnd() < u.album_p:  # an album played in order, from the top
            album = self.cat.albums[_album_of(self.cat, self._pick_track(rnd, month)[0])]
            album_next, album_end, shuffle = album.first_track, album.first_track + album.n_tracks, False
        t, prev_end, skipping, user_id = start, "", False, u.user_id
        for i in range(n):
            if album_next >= 0:
                idx, skip_f = album_next, 0.5
                album_next = album_next + 1 if album_next + 1 < album_end else -1
            else:
                idx, skip_f = self._pick_track(rnd, month)
            track = tracks[idx]
            dur = track.duration_ms
            video = dev.kind == "phone" and rnd() < 0.004
            if i == 0:
                rs = "remote" if dev.kind == "cast" and rnd() < 0.3 else _FIRST_STARTS[int(rnd() * 8)]
            else:
                rs = _NEXT_START.get(prev_end) or ("clickrow" if rnd() < 0.7 else "playbtn")
            if video:  # music videos: short previews reported in the Video files
                rs, re, ms, skipping = "unknown", "endplay", int(rnd() * 30_000), False
            elif i == n - 1:
                re = _SESSION_ENDS[int(rnd() * len(_SESSION_ENDS))]
                ms = dur if re == "trackdone" else int(dur * rng.uniform(0.05, 0.95))
            else:
                re, ms, skipping = self._outcome(rng, dur, skip_f, skipping, dev)
            if out and ms == out[-1].ms_played and out[-1].content is track:
                ms += 1  # same track, same ms, same second would collapse into one event downstream
            begin = t + int(rnd() * 900)  # buffering between tracks
            pause = int(rng.expovariate(1 / 60_000)) % MAX_PAUSE_MS if rnd() < 0.04 else 0
            end = begin + ms + pause
            if end >= w1:
                break
            out.append(
                Play(
                    user_id,
                    sid,
                    begin,
                    end,
                    ms,
                    track,
                    dev,
                    country,
                    rs,
                    re,
                    shuffle,
                    offline,
                    _offline_ref(rnd, begin, ms),
                    incognito,
                    video,
                )
            )
            t, prev_end = end, re
        return t

    def _pick_track(self, rnd: Callable[[], float], month: int) -> tuple[int, float]:
        u = self.u
        source = _pick(rnd, u.source_cum)
        if source == 0:
            return u.core[_pick(rnd, _zipf_cum(len(u.core), 0.6))], _SKIP_FACTOR[0]
        if source == 1:
            base = min(month, (len(u.sequence) - WINDOW_SIZE) // WINDOW_STEP) * WINDOW_STEP
            return u.sequence[base + _pick(rnd, _WINDOW_CUM)], _SKIP_FACTOR[1]
        if source == 2:
            artist = u.fav_artists[_pick(rnd, _zipf_cum(len(u.fav_artists), 1.0))]
            return self.cat.artist_track(rnd, artist, rnd() < 0.5), _SKIP_FACTOR[2]
        if source == 3:
            return self.cat.artist_track(rnd, self.cat.lang_artist(rnd, u.lang)), _SKIP_FACTOR[3]
        if source == 4:
            return self.cat.global_track(rnd), _SKIP_FACTOR[4]
        return int(rnd() * len(self.tracks)), _SKIP_FACTOR[5]

    def _outcome(
        self, rng: random.Random, dur: int, skip_f: float, skipping: bool, dev: Device
    ) -> tuple[str, int, bool]:
        """reason_end and ms_played of a play inside a session; skips come in bursts."""
        rnd = rng.random
        if rnd() < (0.62 if skipping else self.u.skip_p * skip_f):
            x = rnd()
            if skipping:  # thumbing through: several plays can end within the same second
                ms = int(rnd() * 2500) + 120 if x < 0.6 else 2500 + int(rnd() * 27_500)
            else:
                ms = (
                    200 + int(rnd() * 2800)
                    if x < 0.3
                    else 3000 + int(rnd() * 27_000)
                    if x < 0.8
                    else int(dur * rng.uniform(0.15, 0.8))
                )
            return "fwdbtn", ms, True
        x = rnd()
        if x < 0.02:
            return "backbtn", int(rnd() * dur), False
        if x < 0.09:
            return "endplay", int(dur * rng.uniform(0.05, 0.95)), False
        if x < 0.093:
            return "trackerror", 0, False
        if x < 0.096:
            return "unknown", int(rnd() * dur), False
        if x < 0.1 and dev.kind == "cast":
            return "remote", int(rnd() * dur), False
        return "trackdone", dur if rnd() < 0.7 else dur - int(rnd() * 1500), False

    def _episodes(
        self,
        rng: random.Random,
        out: list[Play],
        start: int,
        w1: int,
        sid: int,
        country: str,
        dev: Device,
        day_ord: int,
    ) -> int:
        u, rnd, cat = self.u, rng.random, self.cat
        running = [sh for sh in u.shows if cat.shows[sh].start_ord <= day_ord]
        if not running:
            return self._music(rng, out, start, w1, sid, country, dev, (day_ord - self.since_ord) // 30)
        show = running[int(rnd() * len(running))]
        s = cat.shows[show]
        latest = (day_ord - s.start_ord) // s.cadence_days
        number = max(0, latest - int(rng.expovariate(0.8)))
        offline = dev.kind == "phone" and rnd() < u.offline_p * 2
        t, prev_end = start, ""
        n = 1 + int(rng.expovariate(1 / (EPISODE_ROWS - 1)))
        for i in range(n):
            ep = cat.episode(show, number)
            if i == 0:
                rs = ("clickrow", "appload", "playbtn", "clickrow", "trackdone")[int(rnd() * 5)]
            else:
                rs = _NEXT_START.get(prev_end) or "clickrow"
            if i < n - 1 and rnd() < 0.45:  # browsing: a few seconds of an older episode
                re, ms = ("fwdbtn" if rnd() < 0.6 else "endplay"), int(rnd() * 60_000)
            elif rnd() < 0.3:
                re, ms = "trackdone", ep.duration_ms
            else:
                re, ms = _EPISODE_ENDS[int(rnd() * 5)], 60_000 + int(rnd() * (ep.duration_ms - 60_000))
            video = ep.video and rnd() < 0.4  # video podcasts are mostly listened to as audio
            if video and rnd() < 0.7:
                rs = "unknown"
            begin = t + int(rnd() * 900)
            pause = int(rng.expovariate(1 / 120_000)) % MAX_PAUSE_MS if rnd() < 0.15 else 0
            end = begin + ms + pause
            if end >= w1:
                break
            out.append(
                Play(
                    u.user_id,
                    sid,
                    begin,
                    end,
                    ms,
                    ep,
                    dev,
                    country,
                    rs,
                    re,
                    False,
                    offline,
                    _offline_ref(rnd, begin, ms),
                    False,
                    video,
                )
            )
            t, prev_end = end, re
            if re == "trackdone" and number < latest:
                number += 1  # binge the next one
            elif re == "trackdone":  # caught up with this show: on to another one
                show = running[int(rnd() * len(running))]
                s = cat.shows[show]
                latest = number = max(0, (day_ord - s.start_ord) // s.cadence_days)
            else:
                number = max(0, number - 1)  # browsing older episodes
        return t

    def _chapters(
        self,
        rng: random.Random,
        out: list[Play],
        start: int,
        w1: int,
        sid: int,
        country: str,
        dev: Device,
        month: int,
        day_ord: int,
    ) -> int:
        u, rnd = self.u, rng.random
        book = u.books[(month // 2) % len(u.books)]  # a new book every other month
        n_ch = self.cat.books[book].n_chapters
        number = ((day_ord - self.since_ord) // 3) % n_ch
        t, prev_end = start, ""
        for i in range(1 + int(rnd() * 2.5)):
            ch = self.cat.chapter(book, (number + i) % n_ch)
            rs = (
                ("clickrow", "playbtn", "appload")[int(rnd() * 3)]
                if i == 0
                else (_NEXT_START.get(prev_end) or "clickrow")
            )
            if rnd() < 0.45:
                re, ms = "trackdone", ch.duration_ms
            else:
                re, ms = _EPISODE_ENDS[int(rnd() * 5)], int(rnd() * ch.duration_ms)
            begin = t + int(rnd() * 900)
            end = begin + ms
            if end >= w1:
                break
            out.append(
                Play(
                    u.user_id,
                    sid,
                    begin,
                    end,
                    ms,
                    ch,
                    dev,
                    country,
                    rs,
                    re,
                    False,
                    False,
                    _offline_ref(rnd, begin, ms),
                    False,
                    False,
                )
            )
            t, prev_end = end, re
            if re != "trackdone":
                break
        return t


def _offline_ref(rnd: Callable[[], float], begin: int, ms: int) -> int:
    """offline_timestamp as real files report it: near playback start, sometimes hours stale or a bit late."""
    x = rnd()
    if x < 0.03:  # client state from when the app was opened or went offline
        return begin - int((3_600_000 + rnd() * 11 * HOUR_MS) * (6 if x < 0.003 else 1))
    if x < 0.05:
        return begin + int(rnd() * min(ms, 120_000))
    return begin - int(rnd() * 1500)


def _album_of(cat: Catalog, track: int) -> int:
    lo, hi = 0, len(cat.albums) - 1
    while lo < hi:  # albums are sorted by first_track
        mid = (lo + hi + 1) // 2
        if cat.albums[mid].first_track <= track:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _local_day(user: UserProfile, instant_ms: int) -> int:
    local = datetime.fromtimestamp(instant_ms / 1000, tz=user.zone) - timedelta(hours=DAY_START_HOUR)
    return local.date().toordinal()


def iter_plays(
    user: UserProfile,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    *,
    max_plays: int | None = None,
) -> Iterator[Play]:
    """Plays of one user ending in [start, end), oldest first, streamed day by day.

    Without `end` it runs until `max_plays`. A given play is the same whatever range is asked for.
    """
    if end is None and max_plays is None:
        raise ValueError("iter_plays needs an end date or max_plays, otherwise it never stops")
    start_ms = max(_to_ms(start) or 0, _to_ms(user.since) or 0)
    end_ms = _to_ms(end)
    maker = _DayMaker(user)
    day_ord = _local_day(user, start_ms) - 1
    emitted = 0
    while end_ms is None or maker.window_ms(day_ord) < end_ms:
        for play in maker.day(day_ord):
            if play.end_ms < start_ms:
                continue
            if end_ms is not None and play.end_ms >= end_ms:
                return
            yield play
            emitted += 1
            if max_plays is not None and emitted >= max_plays:
                return
        day_ord += 1


def generate_user_plays(user: UserProfile, start: date | datetime, end: date | datetime) -> list[Play]:
    """All plays of one user in [start, end) as records (for tests and small tools)."""
    return list(iter_plays(user, start, end))
