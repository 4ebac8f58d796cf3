"""Superset's first-start commands in one process: `python -m tracktracker_assets.dashboards.first_start
COMMAND [ARGS...] [-- COMMAND [ARGS...]]...`, run with the environment of Superset's own CLI.

`superset db upgrade`, `superset fab create-admin` and `superset init` are the same click commands as
`superset` runs, in order, stopping at the first that fails; they share one Superset app instead of
each importing Superset and building its app anew (~7 s apiece on 2 cores). Standard input is the
commands' own (create-admin's password prompt reads it, never argv where `ps` would show it).
"""

from __future__ import annotations

import sys


def split_commands(argv: list[str]) -> list[list[str]]:
    """["db", "upgrade", "--", "init"] -> [["db", "upgrade"], ["init"]]; empty commands are dropped."""
    commands: list[list[str]] = [[]]
    for arg in argv:
        if arg == "--":
            commands.append([])
        else:
            commands[-1].append(arg)
    return [command for command in commands if command]


def main(argv: list[str]) -> int:
    commands = split_commands(argv)
    if not commands:
        print("usage: first_start COMMAND [ARGS...] [-- COMMAND [ARGS...]]...", file=sys.stderr)
        return 2
    from flask.cli import ScriptInfo
    from superset.cli.main import create_app, superset

    # one ScriptInfo builds the app on first use and hands the same app to every later command
    info = ScriptInfo(create_app=create_app)
    for command in commands:
        print(f"==== superset {' '.join(command)}", flush=True)
        try:
            superset.main(args=command, prog_name="superset", obj=info, standalone_mode=False)
        except SystemExit as exc:  # a command that exits by itself (click's ctx.exit, sys.exit)
            if exc.code not in (0, None):
                return exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:
            import traceback

            traceback.print_exc()
            print(f"`superset {command[0]}` failed: {exc}", file=sys.stderr, flush=True)
            return 1
        if command[:2] == ["db", "upgrade"]:
            # an app starting on a migrated database syncs its configuration (the system themes) as
            # it starts; this one started before the migration, so it syncs now, as the next
            # command's own app did when each command ran in a process of its own
            info.load_app().sync_config_to_db()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
