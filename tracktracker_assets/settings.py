"""Every setting TrackTracker reads, in one place.

All configuration is environment variables with safe defaults. Anything secret that is not given is
generated once and kept under TRACKTRACKER_HOME with 0600 permissions; nothing secret has a default.

| variable                          | default                         | meaning                                            |
|-----------------------------------|---------------------------------|----------------------------------------------------|
| TRACKTRACKER_HOME                 | ./.tracktracker                 | all local state: databases, inboxes, logs, secrets |
| TRACKTRACKER_DATABASE_URL         | embedded PostgreSQL             | warehouse (bronze/silver/gold)                     |
| TRACKTRACKER_DAGSTER_DATABASE_URL | same server, database `dagster` | Dagster instance storage                           |
| TRACKTRACKER_MONGO_URL            | embedded MongoDB-wire server    | user registry, tokens, OAuth sessions              |
| TRACKTRACKER_MONGO_DB             | tracktracker                    | registry database name                             |
| TRACKTRACKER_PG_BIN               | PostgreSQL bundled from PyPI    | directory with initdb/pg_ctl/postgres to use       |
| TRACKTRACKER_SECRET_KEY           | generated under HOME            | Fernet key that encrypts Spotify refresh tokens    |
| TRACKTRACKER_COUNTED_PLAY_MS      | 30000                           | a play counts from this many ms (dbt var)          |
| TRACKTRACKER_DEDUPE_WINDOW_S      | 60                              | API vs export end-time match window (dbt var)      |
| TRACKTRACKER_GLOBAL_MIN_USERS     | 3                               | k: global trends need this many distinct users     |
| TRACKTRACKER_SESSION_GAP_MINUTES  | 30                              | a silence longer than this ends a listening session (dbt var) |
| TRACKTRACKER_DEDUPE_LARGE_BATCH_ROWS | 100000                        | a refresh with this many new rows reads the dedupe's candidates at each use instead of storing them (read by dbt) |
| TRACKTRACKER_DBT_LOG_LEVEL        | info                            | what a refresh's dbt writes to its dbt.log: `info` (each model's and test's result), `debug` (every SQL statement too; slows each build by ~10%), `warn`, `error`, `none` |
| TRACKTRACKER_MAX_UPLOAD_MB        | 2048                            | largest export file or ZIP accepted                |
| TRACKTRACKER_USER_QUOTA_MB        | 4096                            | per listener: bytes waiting in the inbox plus kept in archive/ and rejected/; an upload or import over it is refused (oldest archived files are removed first to make room) |
| TRACKTRACKER_INBOX_SETTLE_S       | 5                               | a file dropped into an inbox by hand is taken once unchanged (size, mtime) this many seconds |
| TRACKTRACKER_SENSOR_INTERVAL_S    | 30                              | how often the daemon looks for inbox files, new listeners, new connections and loads to refresh |
| TRACKTRACKER_PARTIAL_MAX_AGE_MIN  | 60                              | an interrupted copy (`.incoming-*` in an inbox, a staged upload) untouched this long is removed |
| TRACKTRACKER_KEEP_DAYS            | 30                              | archived and rejected files older than this are removed (after a load run, at `up`) |
| TRACKTRACKER_KEEP_FILES           | 20                              | at most this many archived and this many rejected files kept per listener, newest first |
| TRACKTRACKER_SPOTIFY_CLIENT_ID    | none (Web API off)              | your Spotify app's client id                       |
| TRACKTRACKER_SPOTIFY_CLIENT_SECRET| none (PKCE, no secret)          | the app's secret, if you use one                   |
| TRACKTRACKER_SPOTIFY_REDIRECT_URI | http://127.0.0.1:8765/callback  | redirect URI registered in the Spotify app         |
| TRACKTRACKER_SPOTIFY_API_URL      | https://api.spotify.com/v1/     | Web API base (tests point it at a local fake)      |
| TRACKTRACKER_SPOTIFY_ACCOUNTS_URL | https://accounts.spotify.com    | accounts service base (/authorize, /api/token)     |
| TRACKTRACKER_PULL_INTERVAL_MIN    | 10                              | recently-played pull schedule, minutes             |
| TRACKTRACKER_PULL_CONCURRENCY     | 16                              | users pulled at once in a scheduled tick           |
| TRACKTRACKER_SPOTIFY_MAX_WAIT_S   | 30                              | longest Retry-After honoured in a run; longer waits defer to the next run |
| TRACKTRACKER_SPOTIFY_TIMEOUT_S    | 10                              | seconds a Spotify request may take to connect, and again to answer; one that times out is not re-sent, so a stalled listener costs about this much per run |
| TRACKTRACKER_ENRICH_BUDGET        | 500                             | catalog requests per enrichment run                |
| TRACKTRACKER_LASTFM_API_KEY       | none (Last.fm pulls off)        | this deployment's Last.fm API key (last.fm/api/account/create) |
| TRACKTRACKER_LASTFM_API_URL       | https://ws.audioscrobbler.com/2.0/ | Last.fm API base (tests point it at a local fake) |
| TRACKTRACKER_LISTENBRAINZ_API_URL | https://api.listenbrainz.org    | ListenBrainz API base (tests point it at a local fake) |
| TRACKTRACKER_LIVE_MAX_PAGES       | 50                              | most pages one Last.fm or ListenBrainz pull reads per listener; older history comes from their export files |
| TRACKTRACKER_LIVE_MAX_WAIT_S      | 30                              | longest rate-limit wait a Last.fm or ListenBrainz pull honours in a run; longer ones defer to the next tick |
| TRACKTRACKER_LIVE_TIMEOUT_S       | 10                              | seconds a Last.fm or ListenBrainz request may take to connect, and again to answer |
| TRACKTRACKER_MUSICBRAINZ_CONTACT  | none (MusicBrainz lookups off)  | a URL or e-mail address MusicBrainz can reach this deployment's operator at; it goes in the User-Agent MusicBrainz requires |
| TRACKTRACKER_MUSICBRAINZ_URL      | https://musicbrainz.org         | MusicBrainz server (ws/2; tests point it at a local fake) |
| TRACKTRACKER_MUSICBRAINZ_BUDGET   | 300                             | MusicBrainz requests per lookup run (one per second: about five minutes); the next run resumes |
| TRACKTRACKER_MUSICBRAINZ_TIMEOUT_S | 10                             | seconds a MusicBrainz request may wait to connect or for each part of the answer (musicbrainzngs retries a timeout up to 8 times, then the run stops and the next resumes) |
| TRACKTRACKER_DAGSTER_OPERATOR_PASSWORD | generated under HOME        | Dagster UI login `operator` (runs, wipes, schedules) |
| TRACKTRACKER_DAGSTER_VIEWER_PASSWORD | generated under HOME          | Dagster UI login `viewer` (read only)              |
| TRACKTRACKER_DAGSTER_ALLOWED_HOSTS | 127.0.0.1, localhost, [::1] | further host names the Dagster UI answers to (behind a proxy); others get 421 |
| TRACKTRACKER_BUSY_WAIT_S          | 900                             | longest wait for a busy dbt slot or warehouse lock; then fail naming the holder |
| TRACKTRACKER_EXECUTOR             | in_process                      | where the pull, import and enrichment jobs' steps run: `in_process` (in the run's process) or `celery` (on `tracktracker worker` processes through the broker below); the refresh always runs in its run's process |
| TRACKTRACKER_CELERY_BROKER_URL    | redis://127.0.0.1:6379/1        | Celery broker (Redis) the runs send steps to and `tracktracker worker` takes them from |
| TRACKTRACKER_CELERY_BACKEND_URL   | the broker URL                  | Celery result backend: where workers leave each step's events for the run |
| TRACKTRACKER_CELERY_VISIBILITY_TIMEOUT_S | 3600                     | a step taken by a worker that dies (SIGKILL, crash, lost machine) is given to another worker after this many seconds; keep it above the longest step, or a slow step is run twice |
| TRACKTRACKER_CELERY_NO_WORKER_S    | 300                        | a step no Celery worker takes because none answers for this long fails its run, naming the step and its listeners (start `tracktracker worker`) |
| TRACKTRACKER_PULL_SLICES          | 1 (in_process), 4 (celery)      | runs a pull tick is split into (consecutive slices of the listeners): with `celery`, slices run on different workers at once |
| TRACKTRACKER_IMPORT_SLICES        | 1 (in_process), 4 (celery)      | runs the inbox sensor splits the listeners with waiting files into, the same way |
| TRACKTRACKER_SUPERSET_URL         | none (run Superset locally)     | an existing Superset to provision (docker-compose) |
| TRACKTRACKER_SUPERSET_PUBLIC_URL  | the request's host              | base URL listeners open (Spotify redirect of the upload page) |
| TRACKTRACKER_SUPERSET_ADMIN_PASSWORD | generated under HOME         | password of Superset's `admin`                     |
| TRACKTRACKER_SUPERSET_READER_PASSWORD | generated under HOME        | password of the read-only warehouse role `superset_reader` (the admin's queries) |
| TRACKTRACKER_SUPERSET_METADATA_PASSWORD | generated under HOME      | password of `superset_meta`, the role that owns Superset's metadata database |
| TRACKTRACKER_SUPERSET_DATABASE_URL | `superset` database as superset_meta | Superset's metadata database (docker-compose gives it to Superset) |
| SUPERSET_SECRET_KEY               | generated under HOME            | signs Superset's sessions, encrypts its secrets    |
| TRACKTRACKER_SUPERSET_WORKERS     | 1 per core and per 2 GiB of memory, 1 to 4 | Superset worker processes (each imports ~300 MB) |
| TRACKTRACKER_SUPERSET_THREADS     | 4 x cores / workers, 4 to 8     | threads per worker, held only while Superset works |
| TRACKTRACKER_SUPERSET_MAX_BODY_MB | 16                              | largest request body outside the upload page (413) |
| TRACKTRACKER_SUPERSET_HEADER_TIMEOUT_S | 20                         | a request's head must arrive within this, or the connection is closed |
| TRACKTRACKER_SUPERSET_BODY_GRACE_S | 10                             | a body may pause this long; after it, it must average the rate below (408) |
| TRACKTRACKER_SUPERSET_BODY_MIN_RATE_KB | 16                         | slowest average rate of a request body, KB/s       |
| TRACKTRACKER_SUPERSET_BODY_TIMEOUT_S | 60                           | a body outside the upload page must be complete within this (408) |
| TRACKTRACKER_SUPERSET_UPLOAD_TIMEOUT_S | 3600                       | an upload to the upload page must be complete within this (408) |
| TRACKTRACKER_SUPERSET_CACHE       | on                              | Superset's chart cache, one per listener (`off`: every view queries the warehouse) |
| TRACKTRACKER_SUPERSET_CACHE_TIMEOUT | 300                           | seconds a cached chart result lives                |
| TRACKTRACKER_SUPERSET_CACHE_REDIS_URL | none (files under HOME/superset/cache) | a Redis server for the cache, shared by every worker (docker-compose: its `redis` service) |
| TRACKTRACKER_SQLLAB_TIMEOUT       | 60                              | SQL Lab query timeout, seconds; also the statement timeout PostgreSQL enforces on every listener query (charts too) |
| TRACKTRACKER_SQLLAB_ROW_LIMIT     | 100000                          | most rows a SQL Lab query or chart returns         |
| TRACKTRACKER_LISTENER_CONNECTIONS | 16                              | most warehouse connections one listener's role may hold (a dashboard opens one per chart at once) |
| TRACKTRACKER_SUPERSET_LOG_LEVEL   | INFO                            | Superset's log level                               |
| TRACKTRACKER_SUPERSET_IMAGE_HOSTS | https://i.scdn.co               | origins (space-separated) the dashboards load album covers and artist pictures from: the content security policy's img-src; `none` for no outside host |

The embedded registry server always requires a login: user `tracktracker`, password generated in
TRACKTRACKER_HOME/secrets/mongo-password (docker-compose: MONGO_PASSWORD in .env).

The Superset variables are read by tracktracker_assets/dashboards/config.py, which superset_config.py imports
inside Superset's own process. The request limits are applied by Superset's front
(tracktracker_assets/dashboards/front.py) before Superset sees a request. The Dagster UI's logins are read by
tracktracker_assets/orchestration/front.py (the UI's front).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

SUPERSET_METADATA_ROLE = "superset_meta"
# where the jobs' steps run (orchestration/executor.py); the first is the default
EXECUTORS = ("in_process", "celery")
# the levels of a refresh's dbt.log; the first is the default
DBT_LOG_LEVELS = ("info", "debug", "warn", "error", "none")
DEFAULT_CELERY_BROKER_URL = "redis://127.0.0.1:6379/1"
# TrackTracker's login on the registry server (the embedded one, and docker-compose's mongo)
MONGO_USER = "tracktracker"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name}={raw!r} is not a whole number; unset it or give an integer.") from exc


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name}={raw!r} is not a number; unset it or give one.") from exc
    if not value >= 0:
        raise SystemExit(f"{name}={raw!r} is negative; unset it or give a number of at least 0.")
    return value


def _env_choice(name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first is the default)."""
    raw = _env(name, choices[0])
    value = raw.strip().lower()  # type: ignore[union-attr]
    if value not in choices:
        raise SystemExit(f"{name}={raw!r} is not one of {', '.join(choices)}; unset it or give one of them.")
    return value


def read_or_create_secret(path: Path, make: callable = lambda: secrets.token_urlsafe(32)) -> str:  # type: ignore[valid-type]
    """A secret kept in a 0600 file: created on first use, then always the same."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def registry_url(host: str, port: int, password: str) -> str:
    """TrackTracker's login on a registry server (the embedded one; docker-compose builds the same)."""
    return f"mongodb://{MONGO_USER}:{quote(password, safe='')}@{host}:{port}/?authSource=admin"


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(database), parts.query, parts.fragment))


@dataclass(frozen=True)
class Settings:
    home: Path
    # URLs may carry passwords: kept out of repr (and so out of any log of the settings)
    database_url_override: str | None = field(repr=False)
    dagster_database_url_override: str | None = field(repr=False)
    mongo_url_override: str | None = field(repr=False)
    mongo_db: str
    pg_bin: Path | None
    counted_play_ms: int
    dedupe_window_s: int
    global_min_users: int
    max_upload_bytes: int
    secret_key_override: str | None = field(repr=False, default=None)
    spotify_client_id: str | None = None
    spotify_client_secret: str | None = field(repr=False, default=None)
    spotify_redirect_uri: str = "http://127.0.0.1:8765/callback"
    spotify_api_url: str = "https://api.spotify.com/v1/"
    spotify_accounts_url: str = "https://accounts.spotify.com"
    pull_interval_min: int = 10
    pull_concurrency: int = 16
    spotify_max_wait_s: int = 30
    spotify_timeout_s: int = 10
    enrich_budget: int = 500
    lastfm_api_key: str | None = field(repr=False, default=None)
    lastfm_api_url: str = "https://ws.audioscrobbler.com/2.0/"
    listenbrainz_api_url: str = "https://api.listenbrainz.org"
    live_max_pages: int = 50
    live_max_wait_s: int = 30
    live_timeout_s: int = 10
    musicbrainz_contact: str | None = None
    musicbrainz_url: str = "https://musicbrainz.org"
    musicbrainz_budget: int = 300
    musicbrainz_timeout_s: int = 10
    superset_database_url_override: str | None = field(repr=False, default=None)
    superset_metadata_password_override: str | None = field(repr=False, default=None)
    user_quota_bytes: int = 4096 << 20
    inbox_settle_s: float = 5.0
    sensor_interval_s: int = 30
    partial_max_age_s: float = 3600.0
    keep_days: int = 30
    keep_files: int = 20
    busy_wait_s: int = 900
    session_gap_minutes: int = 30
    dbt_log_level: str = "info"
    executor: str = "in_process"
    celery_broker_url: str = DEFAULT_CELERY_BROKER_URL
    celery_backend_url: str = DEFAULT_CELERY_BROKER_URL
    celery_visibility_timeout_s: int = 3600
    celery_no_worker_s: int = 300
    pull_slices: int = 1
    import_slices: int = 1

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("TRACKTRACKER_HOME", "./.tracktracker")).expanduser().resolve()
        pg_bin = _env("TRACKTRACKER_PG_BIN")
        executor = _env_choice("TRACKTRACKER_EXECUTOR", EXECUTORS)
        broker = _env("TRACKTRACKER_CELERY_BROKER_URL", DEFAULT_CELERY_BROKER_URL)
        return cls(
            home=home,
            database_url_override=_env("TRACKTRACKER_DATABASE_URL"),
            dagster_database_url_override=_env("TRACKTRACKER_DAGSTER_DATABASE_URL"),
            mongo_url_override=_env("TRACKTRACKER_MONGO_URL"),
            mongo_db=_env("TRACKTRACKER_MONGO_DB", "tracktracker"),
            pg_bin=Path(pg_bin) if pg_bin else None,
            counted_play_ms=_env_int("TRACKTRACKER_COUNTED_PLAY_MS", 30_000),
            dedupe_window_s=_env_int("TRACKTRACKER_DEDUPE_WINDOW_S", 60),
            global_min_users=_env_int("TRACKTRACKER_GLOBAL_MIN_USERS", 3),
            max_upload_bytes=_env_int("TRACKTRACKER_MAX_UPLOAD_MB", 2048) * 1024 * 1024,
            secret_key_override=_env("TRACKTRACKER_SECRET_KEY"),
            spotify_client_id=_env("TRACKTRACKER_SPOTIFY_CLIENT_ID"),
            spotify_client_secret=_env("TRACKTRACKER_SPOTIFY_CLIENT_SECRET"),
            spotify_redirect_uri=_env("TRACKTRACKER_SPOTIFY_REDIRECT_URI", "http://127.0.0.1:8765/callback"),
            spotify_api_url=_env("TRACKTRACKER_SPOTIFY_API_URL", "https://api.spotify.com/v1/"),
            spotify_accounts_url=_env(
                "TRACKTRACKER_SPOTIFY_ACCOUNTS_URL", "https://accounts.spotify.com"
            ).rstrip("/"),
            pull_interval_min=_env_int("TRACKTRACKER_PULL_INTERVAL_MIN", 10),
            pull_concurrency=_env_int("TRACKTRACKER_PULL_CONCURRENCY", 16),
            spotify_max_wait_s=_env_int("TRACKTRACKER_SPOTIFY_MAX_WAIT_S", 30),
            spotify_timeout_s=max(1, _env_int("TRACKTRACKER_SPOTIFY_TIMEOUT_S", 10)),
            enrich_budget=_env_int("TRACKTRACKER_ENRICH_BUDGET", 500),
            lastfm_api_key=_env("TRACKTRACKER_LASTFM_API_KEY"),
            lastfm_api_url=_env("TRACKTRACKER_LASTFM_API_URL", "https://ws.audioscrobbler.com/2.0/"),
            listenbrainz_api_url=_env(
                "TRACKTRACKER_LISTENBRAINZ_API_URL", "https://api.listenbrainz.org"
            ).rstrip("/"),
            live_max_pages=max(1, _env_int("TRACKTRACKER_LIVE_MAX_PAGES", 50)),
            live_max_wait_s=_env_int("TRACKTRACKER_LIVE_MAX_WAIT_S", 30),
            live_timeout_s=max(1, _env_int("TRACKTRACKER_LIVE_TIMEOUT_S", 10)),
            musicbrainz_contact=_env("TRACKTRACKER_MUSICBRAINZ_CONTACT"),
            musicbrainz_url=_env("TRACKTRACKER_MUSICBRAINZ_URL", "https://musicbrainz.org").rstrip("/"),
            musicbrainz_budget=max(0, _env_int("TRACKTRACKER_MUSICBRAINZ_BUDGET", 300)),
            musicbrainz_timeout_s=max(1, _env_int("TRACKTRACKER_MUSICBRAINZ_TIMEOUT_S", 10)),
            superset_database_url_override=_env("TRACKTRACKER_SUPERSET_DATABASE_URL"),
            superset_metadata_password_override=_env("TRACKTRACKER_SUPERSET_METADATA_PASSWORD"),
            user_quota_bytes=_env_int("TRACKTRACKER_USER_QUOTA_MB", 4096) << 20,
            inbox_settle_s=_env_float("TRACKTRACKER_INBOX_SETTLE_S", 5.0),
            sensor_interval_s=max(1, _env_int("TRACKTRACKER_SENSOR_INTERVAL_S", 30)),
            partial_max_age_s=_env_float("TRACKTRACKER_PARTIAL_MAX_AGE_MIN", 60.0) * 60,
            keep_days=_env_int("TRACKTRACKER_KEEP_DAYS", 30),
            keep_files=_env_int("TRACKTRACKER_KEEP_FILES", 20),
            busy_wait_s=_env_int("TRACKTRACKER_BUSY_WAIT_S", 900),
            session_gap_minutes=_env_int("TRACKTRACKER_SESSION_GAP_MINUTES", 30),
            dbt_log_level=_env_choice("TRACKTRACKER_DBT_LOG_LEVEL", DBT_LOG_LEVELS),
            executor=executor,
            celery_broker_url=broker,
            celery_backend_url=_env("TRACKTRACKER_CELERY_BACKEND_URL", broker),  # type: ignore[arg-type]
            celery_visibility_timeout_s=max(1, _env_int("TRACKTRACKER_CELERY_VISIBILITY_TIMEOUT_S", 3600)),
            celery_no_worker_s=max(1, _env_int("TRACKTRACKER_CELERY_NO_WORKER_S", 300)),
            pull_slices=max(1, _env_int("TRACKTRACKER_PULL_SLICES", 4 if executor == "celery" else 1)),
            import_slices=max(1, _env_int("TRACKTRACKER_IMPORT_SLICES", 4 if executor == "celery" else 1)),
        )

    # ---- where local state lives -------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def dbt_target_dir(self) -> Path:
        # dbt's manifest, partial-parse state and each build's compiled SQL (which names listeners):
        # per home, so one home's builds, erasures and parses never touch another's
        return self.home / "dbt" / "target"

    @property
    def dbt_log_dir(self) -> Path:
        return self.home / "dbt" / "logs"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def pgdata(self) -> Path:
        return self.home / "postgres"

    @property
    def mongo_data(self) -> Path:
        return self.home / "mongo"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def inbox_root(self) -> Path:
        return self.home / "inbox"

    @property
    def archive_root(self) -> Path:
        return self.home / "archive"

    @property
    def rejected_root(self) -> Path:
        return self.home / "rejected"

    def inbox(self, user_id: str) -> Path:
        return self.inbox_root / user_id

    # ---- services ----------------------------------------------------------------------------
    @property
    def embedded_postgres(self) -> bool:
        return self.database_url_override is None

    @property
    def embedded_mongo(self) -> bool:
        return self.mongo_url_override is None

    @cached_property
    def secret_key(self) -> str:
        if self.secret_key_override:
            return self.secret_key_override
        from cryptography.fernet import Fernet

        return read_or_create_secret(self.secrets_dir / "token-key", lambda: Fernet.generate_key().decode())

    def postgres_password(self) -> str:
        return read_or_create_secret(self.secrets_dir / "postgres-password")

    @property
    def database_url(self) -> str:
        if self.database_url_override:
            return self.database_url_override
        from tracktracker_assets.services.state import read_ports

        port = read_ports(self).get("postgres")
        if port is None:
            raise RuntimeError(
                "The embedded PostgreSQL has not been started yet: run `tracktracker up` "
                "or set TRACKTRACKER_DATABASE_URL."
            )
        password = quote(self.postgres_password(), safe="")
        return f"postgresql://tracktracker:{password}@127.0.0.1:{port}/tracktracker"

    @property
    def dagster_database_url(self) -> str:
        if self.dagster_database_url_override:
            return self.dagster_database_url_override
        return with_database(self.database_url, "dagster")

    @property
    def superset_owner_url(self) -> str:
        """Superset's metadata database as the warehouse owner: only to create its role (dashboards/service.py)."""
        return with_database(self.database_url, "superset")

    def superset_metadata_password(self) -> str:
        return self.superset_metadata_password_override or read_or_create_secret(
            self.secrets_dir / "superset-metadata-password"
        )

    @property
    def superset_database_url(self) -> str:
        """Superset's metadata database as its own role, which owns it and nothing else."""
        if self.superset_database_url_override:
            return self.superset_database_url_override
        parts = urlsplit(self.database_url)
        password = quote(self.superset_metadata_password(), safe="")
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{SUPERSET_METADATA_ROLE}:{password}@{parts.hostname}{port}"
        return urlunsplit((parts.scheme, netloc, "/superset", parts.query, ""))

    def mongo_password(self) -> str:
        return read_or_create_secret(self.secrets_dir / "mongo-password")

    def embedded_mongo_url(self, port: int) -> str:
        """The embedded registry server on port, with TrackTracker's login (never print it)."""
        return registry_url("127.0.0.1", port, self.mongo_password())

    @property
    def mongo_url(self) -> str:
        """The registry's URL, credentials included: never print or log it (status shows host:port)."""
        if self.mongo_url_override:
            return self.mongo_url_override
        from tracktracker_assets.services.state import read_ports

        port = read_ports(self).get("mongo")
        if port is None:
            raise RuntimeError(
                "The embedded registry server has not been started yet: run `tracktracker up` "
                "or set TRACKTRACKER_MONGO_URL."
            )
        return self.embedded_mongo_url(port)


def get_settings() -> Settings:
    return Settings.from_env()
