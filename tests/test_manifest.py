"""dbt's manifest.json is parsed once per version of the file (transform/manifest.py): the refresh's
checks share one parse, and a manifest written again (dbt parsed a changed project) is read anew."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tracktracker_assets.transform.manifest import read_manifest


def test_one_parse_per_version_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": {"model.a": {"name": "a"}}}))
    first = read_manifest(path)
    assert read_manifest(path) is first and first["nodes"]["model.a"]["name"] == "a"

    # written again (a new modification time, the same size): a new version
    stat = path.stat()
    path.write_text(json.dumps({"nodes": {"model.b": {"name": "b"}}}))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert read_manifest(path)["nodes"] == {"model.b": {"name": "b"}}
