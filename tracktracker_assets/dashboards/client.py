"""A small Superset REST client: JWT login, CSRF token in the same cookie session, Referer on writes.

Superset 6.1 refuses a write that lacks any of the three (HTTP 400 "The CSRF session token is missing",
or a referrer error), so every request goes through one
`requests.Session` that holds the session cookie the CSRF token is bound to.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import prison
import requests


class SupersetError(RuntimeError):
    """A Superset API call that did not succeed; carries the HTTP status and the decoded body."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"Superset {method} {path} -> HTTP {status}: {str(body)[:2000]}")
        self.status = status
        self.body = body


class SupersetClient:
    def __init__(self, base_url: str, username: str, password: str, *, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Referer"] = self.base_url + "/"
        self._login(password)

    def _login(self, password: str) -> None:
        body = self.request(
            "POST",
            "/api/v1/security/login",
            json={"username": self.username, "password": password, "provider": "db", "refresh": True},
        )
        self.session.headers["Authorization"] = f"Bearer {body['access_token']}"
        # the token is bound to this session's cookie: fetch it after login, in the same session
        token = self.request("GET", "/api/v1/security/csrf_token/")["result"]
        self.session.headers["X-CSRFToken"] = token

    # ---- plumbing ------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (), **kwargs: Any) -> Any:
        resp = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text
        if resp.status_code >= 400 and resp.status_code not in ok:
            raise SupersetError(method, path, resp.status_code, body)
        return body

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, payload: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=payload, **kwargs)

    def put(self, path: str, payload: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, json=payload, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def list(
        self,
        resource: str,
        filters: dict[str, Any] | None = None,
        *,
        columns: list[str] | None = None,
        order_column: str | None = None,
    ) -> list[dict]:
        """Every row of a list endpoint (`chart`, `security/roles`...), with equality filters.

        Pages are only stable with an order: give a unique order_column where the endpoint allows one
        (most have `id`; Superset's own chart/dataset lists do not). A listing that changed between pages
        or came back short raises instead of returning a wrong answer.
        """
        rows: dict[Any, dict] = {}
        page, page_size, expected = 0, 100, None
        while True:
            query: dict[str, Any] = {"page": page, "page_size": page_size}
            if filters:
                query["filters"] = [{"col": k, "opr": "eq", "value": v} for k, v in filters.items()]
            if columns:
                query["columns"] = columns
            if order_column:
                query.update(order_column=order_column, order_direction="asc")
            body = self.get(f"/api/v1/{resource}/", params={"q": prison.dumps(query)})
            batch = body.get("result", [])
            expected = body.get("count", expected)
            for row in batch:
                rows[row.get("id", len(rows))] = row
            if len(batch) < page_size:
                break
            page += 1
        if expected is not None and len(rows) != expected:
            raise SupersetError("GET", f"/api/v1/{resource}/", 409, f"listed {len(rows)} of {expected} rows")
        return list(rows.values())

    # ---- charts --------------------------------------------------------------------------------
    def chart(self, chart_id: int) -> dict:
        return self.get(f"/api/v1/chart/{chart_id}")["result"]

    def chart_data(self, query_context: dict[str, Any]) -> list[dict]:
        """POST /api/v1/chart/data; one result per query in the context, each with `data` rows."""
        return self.post("/api/v1/chart/data", query_context)["result"]

    def saved_chart_data(self, chart_id: int) -> list[dict]:
        """The data of a saved chart, through the query context it was saved with."""
        context = self.chart(chart_id).get("query_context")
        if not context:
            raise SupersetError("GET", f"/api/v1/chart/{chart_id}", 400, "chart has no saved query_context")
        return self.chart_data(json.loads(context))

    # ---- SQL Lab -------------------------------------------------------------------------------
    def sql(self, database_id: int, sql: str, *, schema: str | None = None, limit: int = 1000) -> dict:
        """Run a statement synchronously in SQL Lab; raises SupersetError when Superset refuses it."""
        payload = {
            "database_id": database_id,
            "sql": sql,
            "schema": schema,
            "runAsync": False,
            "queryLimit": limit,
            "client_id": uuid.uuid4().hex[:10],
            "tab": "tracktracker",
            "sql_editor_id": "tracktracker",
            "expand_data": True,
        }
        return self.post("/api/v1/sqllab/execute/", payload)
