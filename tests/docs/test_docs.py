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


def test_the_ci_matrix_example_runs_every_shard_with_real_commands():
    """examples/ci/github-actions.yml: every backend of its job matrix has its tox environment and
    its pins, its shards are 1..n with n the split its command names, each trainspec command
    parses with the CLI, and the merge job waits for the shards."""
    import configparser
    import re
    import shlex

    from trainspec.conformance.cli import _parser

    flow = yaml.safe_load((ROOT / "examples/ci/github-actions.yml").read_text(encoding="utf-8"))
    shard_job, merge_job = flow["jobs"]["shard"], flow["jobs"]["merge"]
    matrix = shard_job["strategy"]["matrix"]
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    envs = set()  # the environments that tox.ini's sections define, factors expanded
    for section in tox.sections():
        name = section.removeprefix("testenv:")
        m = re.fullmatch(r"(.*)\{(.*)\}(.*)", name)
        parts = m.group(2).split(",") if m else [""]
        envs |= {f"{m.group(1)}{x}{m.group(3)}" if m else name for x in parts}
    commands = [s["run"] for s in shard_job["steps"] + merge_job["steps"] if "run" in s]
    run_cmd = next(c for c in commands if "trainspec run" in c)
    assert merge_job["needs"] == "shard"
    assert any(c.startswith("trainspec merge parts") for c in commands)
    for backend in matrix["backend"]:
        assert (ROOT / "tests/expectations" / f"{backend}.json").is_file()
        assert f"report-{backend}" in envs
        for shard in matrix["shard"]:
            text = run_cmd.replace("${{ matrix.backend }}", backend)
            text = text.replace("${{ matrix.shard }}", str(shard))
            argv = shlex.split(text)
            assert argv[:4] == ["tox", "exec", "-e", f"report-{backend}"]
            args = _parser().parse_args(argv[argv.index("--") + 2 :])
            assert args.backend == [backend] and args.strict and args.expect
            assert tuple(args.shard) == (shard, len(matrix["shard"]))
    assert sorted(matrix["shard"]) == list(range(1, len(matrix["shard"]) + 1))
    merge_cmd = next(c for c in commands if c.startswith("trainspec merge"))
    assert _parser().parse_args(shlex.split(merge_cmd)[1:]).command == "merge"
    assert re.search(r"--report \S+", merge_cmd)
