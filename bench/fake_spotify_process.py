"""The fake Spotify in a process of its own, for benchmarks: Spotify's work must not share the
benchmarked process's CPU (or its GIL), as the real service would not.

    python bench/fake_spotify_process.py --users 1000 --latency 0.1 --tracks 10000 --state DIR

Writes DIR/state.json (base URL, app credentials, one refresh token per account, the unknown tracks)
and serves until terminated; GET http://127.0.0.1:<stats_port>/ answers the Web API request counts.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.spotify_server import FakeSpotify


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--plays", type=int, default=20)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args()

    fake = FakeSpotify(latency=args.latency).start()
    now = datetime.now(UTC)
    accounts = {}
    for i in range(args.users):
        account = fake.add_user(f"sp-{i:04d}")
        fake.generate_plays(account, args.plays, end=now - timedelta(minutes=i % 60))
        accounts[account.id] = fake.issue_refresh_token(account)
    tracks = []
    for track_id in fake.catalog.derived_track_ids(args.tracks):
        track = fake.catalog.track(track_id)
        tracks.append(
            {
                "uri": track["uri"],
                "name": track["name"],
                "artist": track["artists"][0]["name"],
                "album": track["album"]["name"],
            }
        )

    class Stats(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests = fake.requests
            body = json.dumps(
                {
                    "total": len(requests),
                    "catalog": sum(
                        1
                        for r in requests
                        if r.path.startswith(("/v1/tracks/", "/v1/albums/", "/v1/artists/"))
                    ),
                    "recently_played": sum(1 for r in requests if "recently-played" in r.path),
                    "token": sum(1 for r in requests if r.path == "/api/token"),
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    stats = ThreadingHTTPServer(("127.0.0.1", 0), Stats)
    threading.Thread(target=stats.serve_forever, daemon=True).start()
    state = {
        "base_url": fake.base_url,
        "api_base": fake.api_base,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "accounts": accounts,
        "tracks": tracks,
        "stats_url": f"http://127.0.0.1:{stats.server_address[1]}/",
    }
    args.state.mkdir(parents=True, exist_ok=True)
    (args.state / "state.json.tmp").write_text(json.dumps(state))
    (args.state / "state.json.tmp").rename(args.state / "state.json")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    stats.shutdown()
    fake.stop()


if __name__ == "__main__":
    main()
