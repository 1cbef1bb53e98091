"""The documents that need the ``docs`` extra (run by ``tox -e docs``): CITATION.cff against the
Citation File Format 1.2.0 schema (vendored), and the committed spec pages against a fresh
generation."""

import json
import tomllib
from pathlib import Path

import jsonschema
import yaml

from trainspec import reference
from trainspec.conformance.site import write_site

ROOT = Path(__file__).resolve().parents[2]


def test_citation_cff_is_valid_cff_1_2_0():
    schema = json.loads(
        (Path(__file__).parent / "cff-1.2.0-schema.json").read_text(encoding="utf-8")
    )
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    jsonschema.validate(cff, schema)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]
    assert cff["version"] == version
    assert f"spec {reference.SPEC_VERSION}" in cff["message"]


def test_an_invalid_citation_cff_is_rejected():
    schema = json.loads(
        (Path(__file__).parent / "cff-1.2.0-schema.json").read_text(encoding="utf-8")
    )
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    del cff["authors"]
    try:
        jsonschema.validate(cff, schema)
    except jsonschema.ValidationError as exc:
        assert "authors" in str(exc)
    else:
        raise AssertionError("a CITATION.cff without authors validated")


def test_committed_spec_pages_are_fresh(tmp_path):
    written = write_site(tmp_path, report_json=ROOT / "docs" / "reports" / "cpu" / "report.json")
    committed = sorted(p.name for p in (ROOT / "docs" / "spec").glob("*.md"))
    assert sorted(p.name for p in written) == committed
    stale = [
        p.name
        for p in written
        if p.read_text(encoding="utf-8")
        != (ROOT / "docs" / "spec" / p.name).read_text(encoding="utf-8")
    ]
    assert stale == [], f"docs/spec is stale ({stale}): run `trainspec spec --site docs/spec`"
