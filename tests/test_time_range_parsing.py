"""Superset's time-range parser, used by several request threads of one worker at once
(tracktracker_assets/dashboards/mutators.py serialise_time_range_parsing)."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest

from tracktracker_assets.dashboards import mutators


def test_time_ranges_are_parsed_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from superset.utils import date_parser

    inside, most = [0], [0]
    guard = threading.Lock()
    real = date_parser.datetime_eval

    def watched(expression: str | None = None) -> datetime | None:
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.02)  # long enough for every other thread to arrive meanwhile
        try:
            return real(expression)
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(date_parser, "datetime_eval", watched)
    mutators.serialise_time_range_parsing()
    mutators.serialise_time_range_parsing()  # a second app in the process wraps it once
    assert date_parser.datetime_eval.__wrapped__ is watched  # type: ignore[attr-defined]
    results: list[datetime | None] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                date_parser.datetime_eval("DATEADD(DATETIME('2026-12-06'), -1, year)")
            )
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [datetime(2025, 12, 6)] * 8 and most[0] == 1
    # Superset's own path through it: "Last year" up to a fixed day
    since, until = date_parser.get_since_until(
        "Last year", relative_start="2026-12-06", relative_end="2026-12-06"
    )
    assert (since, until) == (datetime(2025, 12, 6), datetime(2026, 12, 6))
