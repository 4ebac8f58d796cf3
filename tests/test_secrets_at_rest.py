"""After everything else has run (imports, pulls, Superset, dashboards, erasures): no secret of the
session's TRACKTRACKER_HOME is anywhere but under secrets/ (where else is looked: tests/secrets_sweep.py)."""

from __future__ import annotations

import pytest

from tests.secrets_sweep import SWEPT, sweep

pytestmark = [pytest.mark.slow, pytest.mark.last]


def test_no_secret_outside_secrets(real_gold, request: pytest.FixtureRequest) -> None:
    request.config.stash[SWEPT] = True  # this session's home is swept here, not again at its end
    found = sweep(real_gold)
    assert len(found.secrets) >= 3, found.secrets.keys()  # postgres, token key, listeners' logins at least
    assert found.leaks == []
    assert {"dagster", "superset", "tracktracker"} <= set(found.databases)
    assert found.documents
    assert found.servers, "no server of this home found"
