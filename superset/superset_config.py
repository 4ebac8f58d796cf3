"""Superset configuration for TrackTracker (loaded through SUPERSET_CONFIG_PATH).

Everything comes from the environment (tracktracker_assets/dashboards/config.py lists it); nothing
secret has a
default. In local mode `tracktracker_assets.dashboards.service` sets the variables below; in compose mode the
container sets them.

- TRACKTRACKER_HOME: state directory (secrets/, superset/); default ./.tracktracker
- TRACKTRACKER_SUPERSET_DATABASE_URL: the metadata database (the `superset` database); required
- SUPERSET_SECRET_KEY: signs sessions, encrypts connection passwords; default generated once under
  $TRACKTRACKER_HOME/secrets/superset-secret-key (0600)
- cache, SQL Lab timeout and row limit, log level: see dashboards/config.py

It also registers the listeners' upload / connect-Spotify page (tracktracker_assets.dashboards.upload_page).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from datetime import timedelta

from tracktracker_assets.dashboards import mutators
from tracktracker_assets.dashboards.cache import cache_configs
from tracktracker_assets.dashboards.config import bi_settings, upload_request_bytes
from tracktracker_assets.dashboards.upload_page import blueprint as upload_blueprint
from tracktracker_assets.services.state import write_atomic
from tracktracker_assets.settings import get_settings

# Superset imports this module while building its own config: keep it free of Superset imports.


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


_bi = bi_settings()
_tt = get_settings()
HOME = _tt.home
SECRETS_DIR = _tt.secrets_dir


def _secret_file(name: str) -> str:
    """A generated secret kept in a 0600 file under TRACKTRACKER_HOME/secrets (same value every start)."""
    path = SECRETS_DIR / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race: use its value
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


# ---- secrets and metadata database -----------------------------------------------------------------
SECRET_KEY = _bi.secret_key or _secret_file("superset-secret-key")
# Embedded dashboards are off; still, never leave Superset's published default guest-token secret.
GUEST_TOKEN_JWT_SECRET = hashlib.sha256(f"guest-token:{SECRET_KEY}".encode()).hexdigest()

_metadata_url = _env("TRACKTRACKER_SUPERSET_DATABASE_URL")
if _metadata_url is None:
    raise RuntimeError(
        "TRACKTRACKER_SUPERSET_DATABASE_URL is not set: start Superset with `tracktracker up` "
        "(tracktracker_assets.dashboards.service.start) or give it the URL of the `superset` database."
    )


def _pgpass_field(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace(":", "\\:")


def _password_aside(url: str) -> str:
    """The metadata URL without its password, which libpq reads from a 0600 pgpass file in secrets/
    instead (PGPASSFILE, matched by host, port, database and role). Superset prints the URL when it
    cannot connect as it starts, and SQLAlchemy 1.4 prints a URL's password with it; Alembic's
    migrations connect with the URL alone, so the password cannot move into the engine's options."""
    from sqlalchemy.engine import URL, make_url

    parsed = make_url(url)
    if parsed.password is None:
        return url
    fields = (
        parsed.host or "localhost",
        parsed.port or 5432,
        parsed.database,
        parsed.username,
        parsed.password,
    )
    entry = ":".join(_pgpass_field(field) for field in fields) + "\n"
    path = SECRETS_DIR / "superset-metadata.pgpass"
    try:
        if not path.exists() or path.read_text() != entry:
            write_atomic(path, entry)  # each gunicorn worker reads this module: never half a file
    except OSError:
        return url  # a home it cannot write to: the URL keeps its password, as it always did
    os.environ["PGPASSFILE"] = str(path)
    without = URL.create(  # URL.set(password=None) leaves the password as it is
        parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query
    )
    return without.render_as_string(hide_password=False)


SQLALCHEMY_DATABASE_URI = _password_aside(_metadata_url)
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
DATA_DIR = str(HOME / "superset")

# ---- features ----------------------------------------------------------------------------------------
FEATURE_FLAGS = {
    # RLS clauses use {{ current_username() }}
    "ENABLE_TEMPLATE_PROCESSING": True,
    # Without it SQL Lab ignores row-level security and a listener would read everyone's plays.
    "RLS_IN_SQLLAB": True,
    "DASHBOARD_RBAC": True,
    "ALERT_REPORTS": False,
    "THUMBNAILS": False,
    "EMBEDDED_SUPERSET": False,
    "ALLOW_ADHOC_SUBQUERY": False,
    "TAGGING_SYSTEM": False,
}

# ---- SQL Lab -----------------------------------------------------------------------------------------
SQLLAB_TIMEOUT = _bi.sqllab_timeout
SUPERSET_WEBSERVER_TIMEOUT = max(SQLLAB_TIMEOUT + 10, 70)
# the most rows SQL Lab (and any chart) may fetch; SQL Lab's own default limit stays small
SQL_MAX_ROW = _bi.sqllab_row_limit
DEFAULT_SQLLAB_LIMIT = min(1000, SQL_MAX_ROW)
ROW_LIMIT = min(50000, SQL_MAX_ROW)
SQLLAB_ASYNC_TIME_LIMIT_SEC = SQLLAB_TIMEOUT
SQLLAB_CTAS_NO_LIMIT = False
# Inline syntax checks in SQL Lab run pgsanity, which needs PostgreSQL's `ecpg` on PATH (the service
# puts the bundled PostgreSQL's bin directory there); without it every keystroke shows an error marker.
SQL_VALIDATORS_BY_ENGINE = {"postgresql": "PostgreSQLValidator"} if shutil.which("ecpg") else {}
# Superset's own check in SQL Lab; tracktracker_assets.dashboards.mutators.query_guard applies the same list
# (and whole families such as pg_*) to every statement Superset sends, charts included.
DISALLOWED_SQL_FUNCTIONS = {"postgresql": set(mutators.BLOCKED_FUNCTIONS)}

# ---- who runs a query, and what it may be (tracktracker_assets/dashboards/mutators.py) ---------------------
# Each person's queries log in as their own PostgreSQL role, whose row-level security PostgreSQL
# enforces: the admin as superset_reader, a listener as their listener role. Superset's RLS rules stay
# as a second layer.
DB_CONNECTION_MUTATOR = mutators.connection_mutator
SQL_QUERY_MUTATOR = mutators.query_guard
MUTATE_AFTER_SPLIT = False  # SQL Lab calls the guard on each statement of a script, charts on their query
EVENT_LOGGER = mutators.event_logger()
EXTRA_RELATED_QUERY_FILTERS = {"user": mutators.related_users_filter, "role": mutators.related_roles_filter}
FLASK_APP_MUTATOR = mutators.mutate_app

# ---- cache: on by default, shared by every worker (tracktracker_assets/dashboards/cache.py) ------------
CACHE_CONFIG, DATA_CACHE_CONFIG = cache_configs(
    HOME, enabled=_bi.cache, timeout=_bi.cache_timeout, redis_url=_bi.cache_redis_url
)
# Every chart-data key holds the asking user's name: a listener's cached result is never another's
# (the Superset RLS clause, rendered per user, is part of the key too; this does not rest on it).
FEATURE_FLAGS["CACHE_QUERY_BY_USER"] = True

# ---- web security -------------------------------------------------------------------------------------
# CSRF stays on: REST writes send the JWT plus X-CSRFToken (from /api/v1/security/csrf_token/, same
# cookie session) and a Referer. The login endpoint is exempt by Superset's default list.
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = int(timedelta(hours=12).total_seconds())
WTF_CSRF_SSL_STRICT = False  # plain HTTP on 127.0.0.1
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = False
AUTH_USER_REGISTRATION = False
PUBLIC_ROLE_LIKE = None
PREVENT_UNSAFE_DB_CONNECTIONS = True
# Bundles never load data from URLs (the default allows any URL: a server-side request on import).
DATASET_IMPORT_ALLOWED_DATA_URLS: list[str] = []
RATELIMIT_STORAGE_URI = "memory://"

# A self-hosted, offline-friendly instance: no third-party hosts in the content security policy but the
# image hosts of album covers and artist pictures (TRACKTRACKER_SUPERSET_IMAGE_HOSTS, Spotify's by
# default); this also blocks the telemetry pixel.
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:", *_bi.image_hosts],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}

APP_NAME = "TrackTracker"
LOGO_RIGHT_TEXT = "TrackTracker"
LOG_LEVEL = _bi.log_level

# ---- the listeners' page: upload an export, connect Spotify (tracktracker_assets.dashboards.upload_page) ---
BLUEPRINTS = [upload_blueprint]
# Werkzeug refuses a larger request before reading its body; the page explains the limit (413 handler).
# The front (tracktracker_assets/dashboards/front.py) lets exactly this much through to the upload page.
MAX_CONTENT_LENGTH = upload_request_bytes(_tt.max_upload_bytes)
