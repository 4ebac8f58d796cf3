"""The demo: three invented listeners with two years of generated (not real) listening each."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tracktracker_assets.settings import Settings


def _marker(settings: Settings) -> Path:
    return settings.home / "demo-loaded"


def demo_pending(settings: Settings) -> bool:
    """The demo loads on first start: no users yet, or only demo users from an interrupted demo."""
    from tracktracker_assets.services.local import open_registry
    from tracktracker_assets.synthetic import DEMO_USERS

    if _marker(settings).exists():
        return False
    demo_ids = {spec.user_id for spec in DEMO_USERS}
    with open_registry(settings) as registry:
        return set(registry.user_ids()) <= demo_ids


def load_demo(settings: Settings, console: Console) -> tuple[list[str], bool]:
    """Generate, register and load the demo listeners; their ids, and whether everything loaded."""
    from tracktracker_assets.exports.inbox import drop_into_inbox
    from tracktracker_assets.orchestration.pipeline import load_and_refresh
    from tracktracker_assets.services.local import open_registry
    from tracktracker_assets.synthetic import generate_demo
    from tracktracker_assets.users.accounts import mirror_users

    data_dir = settings.home / "demo-data"
    with console.status("Generating the demo dataset (invented listeners, deterministic)..."):
        demo_users = generate_demo(data_dir)
    with open_registry(settings) as registry:
        for user in demo_users.values():
            registry.upsert_user(user.user_id, user.display_name, user.tz)
    mirror_users(settings)
    for user in demo_users.values():
        for path in user.files:
            drop_into_inbox(settings, user.user_id, path)
    console.print(f"Loading the demo: {', '.join(demo_users)} ...")
    ok = load_and_refresh(settings, console, list(demo_users))
    if ok:
        _marker(settings).write_text("the demo was loaded; delete this file to load it again\n")
    return list(demo_users), ok
