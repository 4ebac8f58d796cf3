"""The listeners' page inside Superset: upload a Spotify export, connect the Spotify account.

Registered through superset_config.BLUEPRINTS, so it runs in Superset's process with Superset's login
and CSRF protection; the signed-in Superset user is the listener (username = registry user_id).

    GET  /tracktracker/upload             the page: form, Spotify connection, recent import outcomes
    POST /tracktracker/upload             files -> checks -> the listener's inbox (Dagster's sensor loads it)
    POST /tracktracker/accounts           the listener's Last.fm and ListenBrainz usernames (pulled live)
    POST /tracktracker/timezone           the listener's time zone (their charts' local days and hours)
    POST /tracktracker/spotify/connect    -> Spotify's consent page
    GET  /tracktracker/spotify/callback   Spotify sends the listener back here
    POST /tracktracker/takeout            ask for the listener's own takeout, in a format
    GET  /tracktracker/takeout            download it once built (then it is removed)

The takeout is the listener's own, always: the signed-in user, never a parameter. Superset's process
cannot read the warehouse as its owner, so the orchestrator builds it (takeout/requests.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from zoneinfo import available_timezones

from flask import Blueprint, Response, flash, get_flashed_messages, redirect, render_template, request
from flask_login import current_user

from tracktracker_assets.dashboards.config import bi_settings
from tracktracker_assets.exports.uploads import (
    ImportRecord,
    Outcome,
    accept_upload,
    import_history,
    local_time,
)
from tracktracker_assets.settings import Settings, get_settings
from tracktracker_assets.takeout.archive import FORMATS
from tracktracker_assets.takeout.requests import request_takeout, takeout_state
from tracktracker_assets.users.registry import SERVICE_LABELS, RegistryError, User

blueprint = Blueprint("tracktracker", __name__, url_prefix="/tracktracker", template_folder="templates")
CALLBACK_PATH = "/tracktracker/spotify/callback"


@functools.cache
def time_zones() -> list[str]:
    """The names the time zone field suggests (the registry accepts exactly these); read from the zone
    database once, on the first page drawn, not when Superset imports this module."""
    return sorted(available_timezones())


@dataclass
class Notice:
    ok: bool
    text: str


def callback_url() -> str:
    """The redirect URI registered with Spotify: this server's public URL + the callback route."""
    base = bi_settings().public_url or request.host_url.rstrip("/")
    return base + CALLBACK_PATH


def _listener(settings: Settings) -> User | None:
    from tracktracker_assets.services.local import open_registry

    with open_registry(settings) as registry:
        return registry.get_user(current_user.username)


def _history(settings: Settings, user: User) -> tuple[list[ImportRecord], str | None]:
    """The listener's imports, read as their own warehouse role: Superset's process holds no owner
    credentials. The connection goes through Superset's gold database, so its connection mutator
    (dashboards/mutators.py) picks the signed-in listener's role."""
    try:
        with gold_database().get_raw_connection() as conn:
            return import_history(settings, conn, user.user_id, user.timezone), None
    except Exception as exc:  # the page still works for uploads when the warehouse is down
        return [], f"Your import history is unavailable right now ({type(exc).__name__})."


def gold_database() -> Any:
    """Superset's connection to the gold warehouse (the bundle's database, whose URI names the reader)."""
    from superset.extensions import db
    from superset.models.core import Database

    from tracktracker_assets.warehouse.access import READER_ROLE

    for database in db.session.query(Database).all():
        if database.url_object.username == READER_ROLE:
            return database
    raise RuntimeError("Superset has no gold database yet: run `tracktracker superset provision`.")


def _page(
    settings: Settings, user: User | None, notices: list[Notice] | None = None, status: int = 200
) -> tuple[str, int]:
    history, history_error = _history(settings, user) if user else ([], None)
    body = render_template(
        "tracktracker/upload.html",
        user=user,
        username=current_user.username,
        notices=notices or [],
        history=history,
        history_error=history_error,
        limit_mb=settings.max_upload_bytes >> 20,
        last_pull=local_time(user.last_pull_at, user.timezone) if user and user.last_pull_at else None,
        spotify_configured=bool(settings.spotify_client_id),
        takeout=takeout_state(settings, user.user_id) if user else None,
        takeout_formats=FORMATS,
        time_zones=time_zones(),
    )
    return body, status


def for_active_listener(view: Callable[[Settings, User], Any]) -> Callable[[], Any]:
    """The view runs for the signed-in listener (settings, their registry user); a listener TrackTracker
    does not know, or a disabled one, gets the page with a 403."""

    @functools.wraps(view)
    def checked() -> Any:
        settings = get_settings()
        user = _listener(settings)
        if user is None or user.status == "disabled":
            return _page(settings, user, status=403)
        return view(settings, user)

    return checked


@blueprint.before_request
def _require_login() -> Response | None:
    if not current_user.is_authenticated:
        return redirect(f"/login/?next={quote(request.full_path)}")
    return None


@blueprint.route("/upload", methods=["GET"])
def upload_page() -> Any:
    settings = get_settings()
    flashed = get_flashed_messages(
        with_categories=True, category_filter=["tracktracker-ok", "tracktracker-bad"]
    )
    notices = [Notice(category == "tracktracker-ok", text) for category, text in flashed]
    return _page(settings, _listener(settings), notices)


@blueprint.route("/upload", methods=["POST"])
@for_active_listener
def upload_files(settings: Settings, user: User) -> Any:
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if not files:
        return _page(
            settings, user, [Notice(False, "Choose a file first: your Spotify ZIP or its JSON files.")], 400
        )
    outcomes: list[Outcome] = [accept_upload(settings, user.user_id, f.filename, f.stream) for f in files]
    notices = [Notice(o.accepted, f"{o.name} {o.message}") for o in outcomes]
    return _page(settings, user, notices, 200 if all(o.accepted for o in outcomes) else 400)


@blueprint.route("/accounts", methods=["POST"])
@for_active_listener
def set_accounts(settings: Settings, user: User) -> Any:
    """The signed-in listener's own Last.fm and ListenBrainz names; an empty field changes nothing."""
    from tracktracker_assets.services.local import open_registry

    lastfm_name = (request.form.get("lastfm_user") or "").strip()
    listenbrainz_name = (request.form.get("listenbrainz_user") or "").strip()
    if not lastfm_name and not listenbrainz_name:
        return _page(settings, user, [Notice(False, "Give a Last.fm or a ListenBrainz username first.")], 400)
    try:
        with open_registry(settings) as registry:
            if lastfm_name:
                registry.connect_lastfm(user.user_id, lastfm_name)
            if listenbrainz_name:
                registry.connect_listenbrainz(user.user_id, listenbrainz_name, keep_token=True)
    except RegistryError as exc:
        return _page(settings, _listener(settings), [Notice(False, str(exc))], 400)
    named = " and ".join(
        f"{service} as {name}"
        for service, name in (("Last.fm", lastfm_name), ("ListenBrainz", listenbrainz_name))
        if name
    )
    flash(f"Saved: {named}. Your plays there are fetched every few minutes from now on.", "tracktracker-ok")
    return redirect("/tracktracker/upload")  # reloading the page does not post the form again


@blueprint.route("/timezone", methods=["POST"])
@for_active_listener
def set_timezone(settings: Settings, user: User) -> Any:
    """The signed-in listener's time zone (`users set --timezone`). The daemon's registry sensor
    mirrors it and refreshes gold, which then recomputes the local days and hours of all their plays."""
    from tracktracker_assets.services.local import open_registry

    zone = (request.form.get("timezone") or "").strip()
    if not zone:
        return _page(settings, user, [Notice(False, "Choose a time zone first, such as Europe/Berlin.")], 400)
    try:
        with open_registry(settings) as registry:
            before, after = registry.change_user(user.user_id, timezone=zone)
    except RegistryError as exc:
        return _page(settings, _listener(settings), [Notice(False, str(exc))], 400)
    if after.timezone == before.timezone:
        flash(f"Your time zone stays {after.timezone}.", "tracktracker-ok")
    else:
        flash(
            f"Your time zone is {after.timezone} now (was {before.timezone}). Your charts' days and hours "
            "follow it after the next refresh, within a few minutes.",
            "tracktracker-ok",
        )
    return redirect("/tracktracker/upload")


@blueprint.route("/accounts/disconnect", methods=["POST"])
@for_active_listener
def disconnect_account(settings: Settings, user: User) -> Any:
    """The signed-in listener stops a service's pulls (`users disconnect`); their plays stay."""
    from tracktracker_assets.services.local import open_registry

    service = request.form.get("service") or ""
    try:
        with open_registry(settings) as registry:
            account = registry.disconnect(user.user_id, service)
    except RegistryError as exc:
        return _page(settings, _listener(settings), [Notice(False, str(exc))], 400)
    name = SERVICE_LABELS[service]
    if account is None:
        flash(f"You were not connected to {name}: nothing changed.", "tracktracker-ok")
    else:
        revoke = (
            " Spotify still lists TrackTracker among your apps: remove it at spotify.com/account/apps."
            if service == "spotify"
            else ""
        )
        flash(
            f"Disconnected {name} ({account}): nothing more is fetched from there. "
            f"Your plays already here stay.{revoke}",
            "tracktracker-ok",
        )
    return redirect("/tracktracker/upload")


@blueprint.route("/spotify/connect", methods=["POST"])
@for_active_listener
def spotify_connect(settings: Settings, user: User) -> Any:
    try:
        from tracktracker_assets.spotify.connect import SpotifyNotConfigured, authorization_url
    except ImportError:
        return _page(
            settings, user, [Notice(False, "Connecting Spotify is not available on this server yet.")], 503
        )
    try:
        return redirect(authorization_url(settings, user.user_id, callback_url()))
    except SpotifyNotConfigured:
        text = (
            "This TrackTracker is not set up to talk to Spotify yet: its owner has to create a Spotify app "
            "and set TRACKTRACKER_SPOTIFY_CLIENT_ID. Uploading your export works without it."
        )
        return _page(settings, user, [Notice(False, text)], 503)
    except RegistryError as exc:
        return _page(settings, user, [Notice(False, str(exc))], 400)


@blueprint.route("/spotify/callback", methods=["GET"])
def spotify_callback() -> Any:
    settings = get_settings()
    from tracktracker_assets.spotify.connect import complete_authorization

    args = request.args
    try:
        connected = complete_authorization(
            settings, args.get("state", ""), args.get("code"), args.get("error"), callback_url()
        )
    except RegistryError as exc:
        flash(f"Spotify was not connected: {exc}", "tracktracker-bad")
    else:
        if connected.user_id != current_user.username:
            flash(f"Spotify was connected for {connected.user_id}, not for you.", "tracktracker-bad")
        else:
            flash(
                "Spotify is connected. Your recently played tracks will be fetched every few minutes from "
                "now on; Spotify only shares the last 50 plays, so upload your export for your full history.",
                "tracktracker-ok",
            )
    # back to the page, so that reloading it does not replay the one-time code
    return redirect("/tracktracker/upload")


@blueprint.route("/takeout", methods=["POST"])
@for_active_listener
def ask_for_takeout(settings: Settings, user: User) -> Any:
    fmt = request.form.get("format", "")
    if fmt not in FORMATS:
        text = f"Choose a format for your data: {', '.join(FORMATS)}."
        return _page(settings, user, [Notice(False, text)], 400)
    request_takeout(settings, user.user_id, fmt)
    flash(
        f"Your data ({fmt}) is being put together: reload this page in a minute or two to download it.",
        "tracktracker-ok",
    )
    return redirect("/tracktracker/upload")  # reloading the page does not ask again


@blueprint.route("/takeout", methods=["GET"])
@for_active_listener
def download_takeout(settings: Settings, user: User) -> Any:
    ready = takeout_state(settings, user.user_id).ready
    if ready is None:
        text = (
            "No download is waiting for you: ask for your data below, and reload the page once it is ready."
        )
        return _page(settings, user, [Notice(False, text)], 404)
    source = ready.open("rb")  # open before streaming: the file is removed once sent in full

    def chunks() -> Iterator[bytes]:
        with source:
            while piece := source.read(1 << 20):
                yield piece
        ready.unlink(missing_ok=True)  # a whole listening history stays on disk no longer than needed

    return Response(
        chunks(),
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{ready.name}"',
            "Content-Length": str(ready.stat().st_size),
            "Cache-Control": "no-store",
        },
    )


@blueprint.app_errorhandler(413)
def _too_large(error: Exception) -> Any:
    if not request.path.startswith("/tracktracker/") or not current_user.is_authenticated:
        return error
    settings = get_settings()
    text = (
        f"The upload is larger than the {settings.max_upload_bytes >> 20} MB limit, so none of it was kept. "
        "Upload the ZIP as Spotify sent it, or fewer JSON files at a time."
    )
    return _page(settings, _listener(settings), [Notice(False, text)], 413)
