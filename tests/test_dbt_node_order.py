"""A refresh's dbt starts the models marked `meta.starts_early` first among the nodes that become
ready with them, and still after their parents (transform/node_order.py)."""

from __future__ import annotations

from types import SimpleNamespace

import networkx as nx
from dbt.graph.queue import GraphQueue

from tracktracker_assets.transform import node_order


def _node(**meta: object) -> SimpleNamespace:
    return SimpleNamespace(config=SimpleNamespace(meta=meta, incremental_strategy=None))


def _order(queue: GraphQueue) -> list[str]:
    handed: list[str] = []
    while not queue.empty():
        node = queue.get(block=False)
        handed.append(node.unique_id)
        queue.mark_done(node.unique_id)
    return handed


def test_a_marked_model_starts_first_among_the_nodes_ready_with_it(monkeypatch, request) -> None:
    monkeypatch.setattr(GraphQueue, "_get_scores", GraphQueue._get_scores)
    node_order.start_marked_nodes_early.cache_clear()  # installed anew here; any later call, again
    request.addfinalizer(node_order.start_marked_nodes_early.cache_clear)
    nodes = {
        "fct_plays": _node(),
        "agg_countries": _node(),
        "dim_track": _node(),
        "agg_genres": _node(),
        "rank_music": _node(starts_early=True),
    }
    for unique_id, node in nodes.items():
        node.unique_id = unique_id
    manifest = SimpleNamespace(nodes=nodes, expect=nodes.__getitem__)
    edges = [("fct_plays", child) for child in ("agg_countries", "dim_track", "rank_music")]
    graph = nx.DiGraph([*edges, ("dim_track", "agg_genres")])

    by_name = ["fct_plays", "agg_countries", "dim_track", "rank_music", "agg_genres"]
    assert _order(GraphQueue(graph.copy(), manifest, set(nodes))) == by_name  # dbt's own order
    node_order.start_marked_nodes_early()
    marked_first = ["fct_plays", "rank_music", "agg_countries", "dim_track", "agg_genres"]
    assert _order(GraphQueue(graph.copy(), manifest, set(nodes))) == marked_first
