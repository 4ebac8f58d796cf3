"""Hooks superset_config.py installs into Superset: who a query runs as, what a query may be, what the
action log keeps, whom a listener may see.

- `connection_mutator` (DB_CONNECTION_MUTATOR): every connection to the gold warehouse logs in as the
  PostgreSQL role of the person asking: the admin as `superset_reader`, a listener as their own role
  (warehouse/access.py), whose row-level-security policies PostgreSQL applies to any SQL. Passwords are
  read from TRACKTRACKER_HOME/secrets (or the environment) when connecting: none is stored in Superset.
  Anyone else, or a request with no user, is refused: nothing falls back to the reader.
- `query_guard` (SQL_QUERY_MUTATOR): Superset calls it on every statement it sends, SQL Lab and charts
  (custom SQL columns included). A listener may only run plain queries (no SET, RESET, PREPARE,
  EXECUTE, DO, DECLARE, EXPLAIN, COPY, transactions...) and no function that runs SQL from a string,
  changes settings, takes locks, sleeps or reads the server; everyone is held to the function list.
- `ScrubbingEventLogger` (EVENT_LOGGER): Superset's action log records request payloads; passwords,
  secrets and tokens in them are replaced before anything is written.
- `related_users_filter` / `related_roles_filter` (EXTRA_RELATED_QUERY_FILTERS) and
  `filter_every_related_user_list` (part of `mutate_app`, the FLASK_APP_MUTATOR): every "related owners
  / created by / changed by / user" list of Superset's API shows a listener nobody but themselves, and
  only their own roles. Superset applies the user filter only where an API declares it (not on
  datasets' or saved queries' `created_by`, say): the app mutator declares it on every related field
  that names users.
- `keep_sessions_from_the_event_log` (part of `mutate_app`): the frontend's background event log,
  sent from the login page with the signed-out cookie, gets an answer that neither redirects nor sets
  the session cookie, which could otherwise sign out a listener who had just signed in.
- `let_static_files_be_cached`, `answer_the_favicon`, `serialise_time_range_parsing` (part of
  `mutate_app`): static answers save no session (the browser keeps Superset's scripts across
  sign-ins), /favicon.ico leads to Superset's icon, and time ranges are parsed one at a time.
- `check_each_permission_once_a_request` (part of `mutate_app`): a role's permission is looked up in
  the metadata database once per request, not at every check.

Superset imports superset_config.py while it builds its own configuration: Superset is imported here
only inside the functions, when they run.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable
from typing import Any

from tracktracker_assets.warehouse.access import READER_ROLE, read_listener_login
from tracktracker_assets.warehouse.dimensions import SHARED_DIMENSIONS

ADMIN_ROLE = "Admin"

# Functions nobody may call through Superset: they run SQL given as a string (around any filter in the
# query text), read files or server state, change settings, take locks, sleep or signal backends.
BLOCKED_FUNCTIONS = frozenset(
    {
        "current_database",
        "current_schema",
        "current_schemas",
        "current_user",
        "session_user",
        "user",
        "current_setting",
        "set_config",
        "version",
        "inet_client_addr",
        "inet_client_port",
        "inet_server_addr",
        "inet_server_port",
        "ts_stat",
        "ts_debug",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "table_to_xml",
        "table_to_xmlschema",
        "table_to_xml_and_xmlschema",
        "schema_to_xml",
        "schema_to_xmlschema",
        "schema_to_xml_and_xmlschema",
        "database_to_xml",
        "database_to_xmlschema",
        "database_to_xml_and_xmlschema",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "nextval",
        "setval",
        "currval",
        "lastval",
        "txid_current",
    }
)
# whole families: server administration and introspection (pg_*), large objects (lo_*), dblink
BLOCKED_PREFIXES = ("pg_", "lo_", "dblink")
SECRET_KEY_PATTERN = re.compile(
    r"pass(word)?|secret|token|credential|sqlalchemy_uri|encrypted", re.IGNORECASE
)
REDACTED = "[redacted]"


# ---- who a query runs as ------------------------------------------------------------------------------
def _role_names(security_manager: Any, username: str) -> set[str]:
    user = security_manager.find_user(username=username)
    if user is None:
        return set()
    return {role.name for role in user.roles}


def connection_mutator(
    url: Any, params: dict[str, Any], username: str | None, security_manager: Any, source: Any
) -> tuple[Any, dict[str, Any]]:
    """The gold connection (user `superset_reader` in its stored URI) as the asking person's role."""
    if url.username != READER_ROLE:
        return url, params  # a database someone added by hand: Superset's own rules apply
    from flask import has_request_context

    from tracktracker_assets.dashboards.warehouse_role import reader_password
    from tracktracker_assets.settings import get_settings

    settings = get_settings()
    if username is None:
        if has_request_context():
            raise _refused("This query has no signed-in user; sign in to run it.")
        # Superset's own background work (no request, no user): the admin's read-only role
        return url.set(password=reader_password(settings)), params
    if ADMIN_ROLE in _role_names(security_manager, username):
        return url.set(password=reader_password(settings)), params
    login = read_listener_login(settings, username)
    if login is None:
        raise _refused(
            f"{username!r} has no warehouse login, so no data can be shown. The owner of this TrackTracker "
            "creates it with `tracktracker users add` (or the next `tracktracker up`)."
        )
    return url.set(username=login.role, password=login.password), params


# ---- what a query may be ------------------------------------------------------------------------------
def _refused(message: str) -> Exception:
    # charts report a QueryObjectValidationError to the listener as a 400 with this message (any other
    # exception becomes a bare 500 page there); SQL Lab shows the message as the query's error
    from superset.exceptions import QueryObjectValidationError

    return QueryObjectValidationError(message)


def function_names(tree: Any) -> set[str]:
    """Lower-case names of every function a parsed statement calls."""
    from sqlglot import exp

    names = set()
    for node in tree.find_all(exp.Func):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        names.add(str(name).lower())
    return names


def blocked_functions(names: set[str]) -> set[str]:
    return {n for n in names if n in BLOCKED_FUNCTIONS or n.startswith(BLOCKED_PREFIXES)}


def statement_problem(sql: str, *, listener: bool) -> str | None:
    """Why Superset must not send this SQL, or None when it may. Pure: unit-tested without Superset."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        statements = [s for s in sqlglot.parse(sql, dialect="postgres") if s is not None]
    except ParseError:
        return "this SQL could not be read; only plain SELECT queries may run here." if listener else None
    writes = (
        exp.Insert,
        exp.Update,
        exp.Delete,
        exp.Merge,
        exp.Create,
        exp.Drop,
        exp.Alter,
        exp.TruncateTable,
    )
    for statement in statements:
        blocked = blocked_functions(function_names(statement))
        if blocked:
            return f"these functions may not be used here: {', '.join(sorted(blocked))}."
        if not listener:
            continue
        if not isinstance(statement, exp.Query) or isinstance(statement, exp.Values):
            kind = (statement.sql(dialect="postgres").split() or ["?"])[0].upper()
            return f"only SELECT queries may run here, not {kind}."
        if statement.find(exp.Into) or statement.find(exp.Lock) or statement.find(exp.Command):
            return "only plain SELECT queries may run here (no INTO, FOR UPDATE or commands)."
        if statement.find(*writes):
            return "only SELECT queries may run here: nothing can be changed."
        outside = outside_gold(statement)
        if outside:
            return f"only tables of the gold schema may be read here, not {', '.join(sorted(outside))}."
        shared = stars_over_shared_dimensions(statement)
        if shared:
            return (
                f"{', '.join(sorted(shared))}: name the columns you want. A shared dimension's `*` takes in "
                "its columns that tell of other listeners, which no listener may read."
            )
    return None


def stars_over_shared_dimensions(statement: Any) -> set[str]:
    """The shared dimensions whose every column a `*` (or `d.*`) of one of the statement's SELECTs asks
    for: PostgreSQL would refuse it to a listener with a bare "permission denied"."""
    from sqlglot import exp

    found: set[str] = set()
    for select in statement.find_all(exp.Select):
        read: dict[str, str] = {}  # alias (or name) -> the dimension read under it
        for source in [select.args.get("from_"), *(select.args.get("joins") or [])]:
            table = source.this if source is not None else None
            if (
                isinstance(table, exp.Table)
                and table.name.lower() in SHARED_DIMENSIONS
                and table.db.lower() in ("gold", "")
            ):
                read[table.alias_or_name.lower()] = f"gold.{table.name.lower()}"
        for projection in select.expressions if read else []:
            if isinstance(projection, exp.Star):
                found |= set(read.values())
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                qualifier = projection.table.lower()
                if qualifier in read:
                    found.add(read[qualifier])
    return found


def outside_gold(statement: Any) -> set[str]:
    """Tables a statement reads outside gold: another schema, or an unqualified system catalog name
    (pg_*: PostgreSQL searches pg_catalog first). Other unqualified names are CTEs or resolve in the
    schema SQL Lab was given, which Superset's own access check limits to the listener's datasets."""
    from sqlglot import exp

    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    found = set()
    for table in statement.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a set-returning function in FROM: the function list applies to it
        schema, name = table.db.lower(), table.name.lower()
        if schema == "gold" or (not schema and (name in ctes or not name.startswith("pg_"))):
            continue
        found.add(".".join(part for part in (table.catalog, table.db, table.name) if part))
    return found


def query_guard(sql: str, security_manager: Any = None, database: Any = None, **_: Any) -> str:
    """SQL_QUERY_MUTATOR: returns the SQL unchanged, or refuses it (a listener's or anyone's)."""
    listener = True
    if security_manager is not None:
        try:
            listener = not security_manager.is_admin()
        except Exception:  # no user in context (Superset's own work): the function list still applies
            listener = False
    problem = statement_problem(sql, listener=listener)
    if problem:
        raise _refused(f"Query refused: {problem}")
    return sql


# ---- the action log -----------------------------------------------------------------------------------
def scrub(value: Any) -> Any:
    """A payload with every password, secret or token replaced (JSON held in strings too)."""
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY_PATTERN.search(str(k)) else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return json.dumps(scrub(decoded))
    return value


def event_logger() -> Any:
    from superset.utils.log import DBEventLogger

    class ScrubbingEventLogger(DBEventLogger):
        def log(self, *args: Any, **kwargs: Any) -> None:
            if "records" in kwargs:
                kwargs["records"] = scrub(kwargs["records"])
            if kwargs.get("curated_payload") is not None:
                kwargs["curated_payload"] = scrub(kwargs["curated_payload"])
            super().log(*args, **kwargs)

    return ScrubbingEventLogger()


# ---- whom a listener sees -----------------------------------------------------------------------------
def related_users_filter(query: Any) -> Any:
    """Owner and creator pickers: the admin sees everyone, anyone else only themselves."""
    from flask import g

    from superset import security_manager

    if security_manager.is_admin():
        return query
    user_id = getattr(getattr(g, "user", None), "id", None)
    return query.filter(security_manager.user_model.id == user_id)


def related_roles_filter(query: Any) -> Any:
    """Role pickers: the admin sees every role, anyone else only their own."""
    from flask import g

    from superset import security_manager

    if security_manager.is_admin():
        return query
    mine = [role.id for role in getattr(getattr(g, "user", None), "roles", [])]
    return query.filter(security_manager.role_model.id.in_(mine))


def mutate_app(app: Any) -> None:
    """FLASK_APP_MUTATOR: every change TrackTracker makes to Superset's Flask app."""
    filter_every_related_user_list(app)
    keep_sessions_from_the_event_log(app)
    let_static_files_be_cached(app)
    answer_the_favicon(app)
    serialise_time_range_parsing()
    check_each_permission_once_a_request(app)


# Superset's frontend posts its event log here in the background (a beacon, about a second after a page
# opens); nothing reads the answer
EVENT_LOG_PATH = "/superset/log/"


def keep_sessions_from_the_event_log(app: Any) -> None:
    """The event log can no longer sign out a listener who has just signed in. The login page sends its
    beacon with the signed-out cookie; Superset answered it with a redirect to /login/, which the
    browser follows, again with the signed-out cookie, and both answers set a fresh signed-out session.
    When the login's own answer came first (Superset busy, say warming that listener's charts after a
    refresh), one of them arrived last and replaced the signed-in cookie: the listener found the login
    page again. So a beacon without a signed-in user gets 204 (Superset keeps no log of it anyway, and
    there is nothing to follow), and no answer to the event log saves the session."""
    from flask import Response, request
    from flask_login import current_user

    def is_event_log(path: str) -> bool:
        return path.rstrip("/") == EVENT_LOG_PATH.rstrip("/")

    @app.before_request
    def _signed_out_event_log() -> Response | None:
        if is_event_log(request.path) and not current_user.is_authenticated:
            return Response(status=204)
        return None

    leave_the_session_out_of(app, is_event_log)


def let_static_files_be_cached(app: Any) -> None:
    """Superset's scripts and styles (15 MB) are the same for everyone and cached by the browser for a year,
    but Flask marks every answer of a request that read the session `Vary: Cookie`, and Superset reads it
    on every request: a browser holding another session cookie than when it cached them (after every
    sign-in, and whenever Superset rewrites the cookie) fetched and compiled them all again. Answers
    under the static path no longer save the session: they neither vary by the cookie nor set it."""
    prefix = (app.static_url_path or "/static").rstrip("/") + "/"
    leave_the_session_out_of(app, lambda path: path.startswith(prefix))


def leave_the_session_out_of(app: Any, answers_to: Callable[[str], bool]) -> None:
    """The answers to the requests whose path `answers_to` picks save no session (no Set-Cookie, no
    `Vary: Cookie`), whichever session interface Superset has: one wrapper around it, holding every
    such rule."""
    from flask import request
    from flask.sessions import SessionInterface

    rules = getattr(app.session_interface, "left_out", None)
    if rules is not None:
        rules.append(answers_to)
        return

    class SessionLeftOut(SessionInterface):
        """The session interface Superset has, saving no session into the answers its rules pick."""

        def __init__(self, inner: SessionInterface) -> None:
            self.inner = inner
            self.left_out = [answers_to]

        def open_session(self, app: Any, request: Any) -> Any:
            return self.inner.open_session(app, request)

        def make_null_session(self, app: Any) -> Any:
            return self.inner.make_null_session(app)

        def is_null_session(self, obj: object) -> bool:
            return self.inner.is_null_session(obj)

        def save_session(self, app: Any, session: Any, response: Any) -> None:
            if not any(rule(request.path) for rule in self.left_out):
                self.inner.save_session(app, session, response)

    app.session_interface = SessionLeftOut(app.session_interface)


def answer_the_favicon(app: Any) -> None:
    """A browser asks for /favicon.ico on every page that names no icon (an API answer, /health);
    Superset's pages name theirs (FAVICONS), but it has no such route: each ask was a 404 in the
    browser's console and a traceback in Superset's log. It now leads to the icon the pages name."""
    from flask import abort, redirect

    def favicon() -> Any:
        icons = app.config.get("FAVICONS") or []
        return redirect(icons[0]["href"], code=301) if icons else abort(404)

    app.add_url_rule("/favicon.ico", "tracktracker_favicon", favicon)


_TIME_RANGE_PARSING = threading.Lock()


def serialise_time_range_parsing() -> None:
    """Superset parses a chart's time range ("Last year", "DATEADD(DATETIME('today'), -1, year)") with one
    pyparsing grammar per process: built lazily, on first use, by whichever threads ask at once (each
    build re-configures pyparsing's shared `quotedString`), and parsed with pyparsing's process-wide
    packrat cache, which parse_string clears at each start. pyparsing promises no thread safety, and
    the front serves a worker's requests on several threads: a dashboard whose charts all ask for one
    period at once had several fail with "Expected ',', found '-'" on a valid range. Parsing is
    serialised (it takes well under a millisecond)."""
    from superset.utils import date_parser

    evaluate = date_parser.datetime_eval
    if getattr(evaluate, "serialised", False):
        return

    @functools.wraps(evaluate)
    def one_at_a_time(datetime_expression: str | None = None) -> Any:
        with _TIME_RANGE_PARSING:
            return evaluate(datetime_expression)

    one_at_a_time.serialised = True  # type: ignore[attr-defined]
    date_parser.datetime_eval = one_at_a_time


def filter_every_related_user_list(app: Any) -> None:
    """Part of mutate_app: the related-users (and roles) filter on every API field whose related model is
    a user (a role). Superset calls this before it registers its APIs, so the filters are declared
    before the first request is served (idempotent; a request cannot arrive earlier)."""
    done: list[bool] = []

    @app.before_request
    def _declare_filters() -> None:
        if not done:
            _declare_related_filters(app)
            done.append(True)


def _declare_related_filters(app: Any) -> None:
    from superset.views.base_api import BaseSupersetModelRestApi
    from superset.views.filters import BaseFilterRelatedRoles, BaseFilterRelatedUsers

    from superset import security_manager

    wanted = {
        security_manager.user_model: BaseFilterRelatedUsers,
        security_manager.role_model: BaseFilterRelatedRoles,
    }
    for view in app.appbuilder.baseviews:
        if not isinstance(view, BaseSupersetModelRestApi):
            continue
        filters = {name: list(value) for name, value in (view.base_related_field_filters or {}).items()}
        for field in view.allowed_rel_fields:
            try:
                model = view.datamodel.get_related_model(field)
            except (KeyError, AttributeError):
                continue
            kind = wanted.get(model)
            if kind is not None and not any(entry[1] is kind for entry in filters.get(field, [])):
                filters.setdefault(field, []).append(["id", kind, lambda: []])
        view.base_related_field_filters = filters


# the key a request's answered permission checks are kept under in flask.g
PERMISSIONS_ASKED = "_tracktracker_permissions_asked"


def check_each_permission_once_a_request(app: Any) -> None:
    """Flask-AppBuilder asks the metadata database whether a user's roles hold a permission at every
    check, and Superset checks the same few many times a request: one listener's dashboard (33
    requests) sent 546 such queries, 21 distinct, `all_database_access` alone 207 times. So each is
    asked once a request: a change to a role (the admin's own request, provisioning) counts from the
    next request on, as Superset checks access on entering a request anyway. Outside a request
    (Superset's own commands, which change permissions as they go) every check still asks."""
    from flask import g, has_request_context

    manager = app.appbuilder.sm
    ask = manager.exist_permission_on_roles

    @functools.wraps(ask)
    def exist_permission_on_roles(view_name: str, permission_name: str, role_ids: list[int]) -> bool:
        if not has_request_context():
            return ask(view_name, permission_name, role_ids)
        asked = g.setdefault(PERMISSIONS_ASKED, {})
        key = (view_name, permission_name, tuple(sorted(role_ids)))
        if key not in asked:
            asked[key] = ask(view_name, permission_name, role_ids)
        return asked[key]

    manager.exist_permission_on_roles = exist_permission_on_roles
