"""dbt's result tables in a refresh's dbt reuse their column type testers
(transform/type_testers.py): one tester per set of text columns, and every table typed as before."""

from __future__ import annotations

from decimal import Decimal

from dbt_common.clients import agate_helper

from tracktracker_assets.transform import type_testers


def test_one_tester_per_set_of_text_columns_and_tables_typed_as_before(monkeypatch, request) -> None:
    monkeypatch.setattr(agate_helper, "build_type_tester", agate_helper.build_type_tester)
    type_testers.reuse_type_testers.cache_clear()  # installed anew here; any later call, again
    request.addfinalizer(type_testers.reuse_type_testers.cache_clear)
    rows = [
        {"column_name": "user_id", "data_type": "text", "ordinal": 1, "numeric_scale": None},
        {"column_name": "ms_played", "data_type": "bigint", "ordinal": 2, "numeric_scale": Decimal("0")},
    ]
    names = ["column_name", "data_type", "ordinal", "numeric_scale"]
    before = agate_helper.table_from_data_flat(rows, names)

    type_testers.reuse_type_testers()
    after = agate_helper.table_from_data_flat(rows, names)
    assert [type(t) for t in after.column_types] == [type(t) for t in before.column_types]
    assert [tuple(row) for row in after.rows] == [tuple(row) for row in before.rows]
    assert agate_helper.build_type_tester({"a", "b"}, ()) is agate_helper.build_type_tester(["b", "a"], ())
    assert agate_helper.build_type_tester({"a"}, ()) is not agate_helper.build_type_tester({"a"})
