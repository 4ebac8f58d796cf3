"""Superset's time-range parser, used by several request threads of one worker at once
(tracktracker_assets/dashboards/mutators.py serialise_time_range_parsing).

Run in an interpreter of its own: Superset's modules import each other in cycles that only its own
package's import resolves, and a worker's earlier tests may have left Superset's modules half imported."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

CHECK = """
import json, threading, time
from datetime import datetime
import superset  # Superset's own import order: its modules import each other in cycles
from superset.utils import date_parser
from tracktracker_assets.dashboards import mutators

inside, most, guard, real = [0], [0], threading.Lock(), date_parser.datetime_eval

def watched(expression=None):
    with guard:
        inside[0] += 1
        most[0] = max(most[0], inside[0])
    time.sleep(0.02)  # long enough for every other thread to arrive meanwhile
    try:
        return real(expression)
    finally:
        with guard:
            inside[0] -= 1

date_parser.datetime_eval = watched
mutators.serialise_time_range_parsing()
mutators.serialise_time_range_parsing()  # a second app in the process wraps it once
results = []
def parse():
    results.append(date_parser.datetime_eval("DATEADD(DATETIME('2026-12-06'), -1, year)").isoformat())
threads = [threading.Thread(target=parse) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
day = "2026-12-06"
since, until = date_parser.get_since_until("Last year", relative_start=day, relative_end=day)
print(json.dumps({
    "wrapped_once": date_parser.datetime_eval.__wrapped__ is watched,
    "results": results, "most": most[0], "last_year": [since.isoformat(), until.isoformat()],
}))
"""


def test_time_ranges_are_parsed_one_at_a_time() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["wrapped_once"] and found["most"] == 1  # one parse at a time across 8 threads
    assert found["results"] == ["2025-12-06T00:00:00"] * 8
    # Superset's own path through it: "Last year" up to a fixed day
    assert found["last_year"] == ["2025-12-06T00:00:00", "2026-12-06T00:00:00"]
