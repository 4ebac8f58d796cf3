"""Whether a Dagster code server answers with its code location loaded (services/dagster.py waits
for it before starting the webserver and the daemon that load it). Dagster's gRPC client is private
API, kept here with the rest of Dagster's internals."""

from __future__ import annotations


def location_loaded(host: str, port: int) -> bool:
    """The server lists its repositories (not an error, not still loading)."""
    from dagster._grpc.client import DagsterGrpcClient
    from dagster._grpc.types import ListRepositoriesResponse
    from dagster._serdes import deserialize_value

    try:
        answer = deserialize_value(DagsterGrpcClient(port=port, host=host).list_repositories())
    except Exception:  # not listening yet, or not answering: asked again
        return False
    return isinstance(answer, ListRepositoriesResponse)
