"""Superset's permission checks asked once a request (tracktracker_assets/dashboards/mutators.py
check_each_permission_once_a_request), on a real Flask app: within a request a repeated check is
answered from that request's own answers; another request, other roles, or a check outside any request
(Superset's own commands, which change permissions as they go) ask the metadata database again."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Flask

from tracktracker_assets.dashboards.mutators import check_each_permission_once_a_request


class Roles:
    """Flask-AppBuilder's security manager as the wrapper sees it: the query it makes, counted."""

    def __init__(self) -> None:
        self.granted = {("all_database_access", "all_database_access", (7,))}
        self.asked: list[tuple[str, str, tuple[int, ...]]] = []

    def exist_permission_on_roles(self, view_name: str, permission_name: str, role_ids: list[int]) -> bool:
        key = (view_name, permission_name, tuple(role_ids))
        self.asked.append(key)
        return key in self.granted


def app_with(roles: Roles) -> Flask:
    app = Flask(__name__)
    app.appbuilder = SimpleNamespace(sm=roles)
    check_each_permission_once_a_request(app)
    return app


def test_a_request_asks_each_check_once() -> None:
    roles = Roles()
    app = app_with(roles)
    check = roles.exist_permission_on_roles
    with app.test_request_context("/api/v1/chart/data"):
        answers = [check("all_database_access", "all_database_access", [7]) for _ in range(5)]
        answers += [check("all_datasource_access", "all_datasource_access", [7]) for _ in range(3)]
        assert check("all_database_access", "all_database_access", [7]) is True
        # the same roles in another order are the same question; other roles are another
        assert check("all_database_access", "all_database_access", [7, 9]) is False
        assert check("all_database_access", "all_database_access", [9, 7]) is False
        assert check("all_database_access", "all_database_access", [8]) is False
    assert answers == [True] * 5 + [False] * 3
    assert roles.asked == [
        ("all_database_access", "all_database_access", (7,)),
        ("all_datasource_access", "all_datasource_access", (7,)),
        ("all_database_access", "all_database_access", (7, 9)),
        ("all_database_access", "all_database_access", (8,)),
    ]


def test_the_next_request_asks_again_and_so_does_a_check_outside_any_request() -> None:
    roles = Roles()
    app = app_with(roles)
    check = roles.exist_permission_on_roles
    with app.test_request_context("/"):
        assert check("all_database_access", "all_database_access", [7]) is True
    roles.granted.clear()  # the permission was taken away between the requests
    with app.test_request_context("/"):
        assert check("all_database_access", "all_database_access", [7]) is False
    with app.app_context():
        check("Chart", "can_read", [7])
        check("Chart", "can_read", [7])
    assert len(roles.asked) == 4
