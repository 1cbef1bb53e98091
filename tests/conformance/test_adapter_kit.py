"""The adapter author's tools: check-adapter, spec --contract, new-adapter, the docs' contracts."""

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from numpy_impls import NumpyAdapter, heavy_ball, impl, raising

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.adapter_kit import (
    all_kinds,
    check_adapter,
    new_adapter,
    render_contract,
    update_docs,
)
from trainspec.conformance.cli import main
from trainspec.conformance.contracts import ArrayOf, MappingOf, validate

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent


def test_every_kind_declares_a_contract_that_documents_every_case_field():
    kinds = all_kinds()
    assert {k.name for k in kinds} >= {"optimizers", "activations", "init", "defaults", "norm"}
    for kind in kinds:
        c = kind.contract
        assert c is not None, kind.name
        for t in c.case_types:
            documented = {f.name for f in c.fields}
            assert {f.name for f in fields(t)} <= documented, (kind.name, t)


def test_optimizer_contract_names_every_buffer_of_every_spec_id_with_a_meaning(capsys):
    assert main(["spec", "--contract", "optimizers"]) == 0
    out = capsys.readouterr().out
    for e in reference.all_entries():
        if e.kind == "optimizers":
            for b in e.model.buffers:
                line = next(ln for ln in out.splitlines() if ln.strip().startswith(f"{e.id} {b}:"))
                assert len(line.split(":", 1)[1].strip()) > 20, line
    assert "opt.adam v_max: the AMSGrad running maximum" in out
    assert "count is the number of steps already taken" in out


def test_contract_of_activations_and_init_state_keys_and_options(capsys):
    assert main(["spec", "--contract", "activations"]) == 0
    out = capsys.readouterr().out
    assert "{'y': f(z)}" in out and "{'z': the VJP" in out and "derivatives = False" in out
    assert main(["spec", "--contract", "init"]) == 0
    assert "layout = 'torch' | 'channels_last'" in capsys.readouterr().out
    assert main(["spec", "--contract", "no_such_kind"]) == 2
    assert "no_such_kind" in capsys.readouterr().err


def test_docs_adapters_md_holds_the_generated_contracts():
    """docs/adapters.md states the contracts as generated from code: regenerate with
    ``trainspec spec --contract all --docs docs/adapters.md``."""
    assert update_docs(ROOT / "docs" / "adapters.md", write=False), (
        "docs/adapters.md is stale: run trainspec spec --contract all --docs docs/adapters.md"
    )
    assert "### `optimizers`" in render_contract("all", markdown=True)


def test_validate_names_every_difference():
    want = MappingOf({"w": ArrayOf((2,)), "b": ArrayOf(())})
    assert validate({"w": np.zeros(2), "b": 0.0}, want) == []
    problems = validate({"w": np.zeros(3, dtype=np.int64), "c": np.zeros(())}, want, "r")
    assert "r: keys ['c', 'w'] lack ['b']" in problems
    assert "r: keys ['c', 'w'] have unexpected ['c']" in problems
    assert "r['w']: shape (3,), expected (2,)" in problems
    assert any("dtype int64 must be a floating dtype" in p for p in problems)
    assert validate([1.0], want) == ["result: must be a mapping, got list"]


def _gd(case, dtype, device):
    t = np.dtype(dtype).type
    p = {k: v.astype(t) for k, v in case.params.items()}
    for lr, g in zip(case.learning_rates, case.grads, strict=True):
        p = {k: p[k] - t(lr) * g[k].astype(t) for k in p}
    return {k: v.astype(np.float64) for k, v in p.items()}


def test_check_adapter_accepts_a_correct_adapter_and_calls_every_check():
    result = check_adapter(
        NumpyAdapter([impl("opt.momentum", "heavy_ball", heavy_ball), impl("opt.gd", "gd", _gd)])
    )
    assert result.problems == [] and result.implementations == 2 and result.calls == 4


def test_check_adapter_reports_each_problem_on_one_line():
    bad = [
        Implementation("opt.adm", "typo", _gd, devices=("cpu",)),
        Implementation("norm.whiten", "reference_only", _gd, devices=("cpu",)),
        Implementation("opt.gd", "option", _gd, devices=("cpu",), options={"layout": "torch"}),
        impl("opt.gd", "raises", raising),
        Implementation(
            "opt.gd", "wrong_keys", lambda c, d, v: {"x": np.zeros(1)}, devices=("cpu",)
        ),
        Implementation(
            "opt.gd", "a_list", lambda c, d, v: {k: [1.0] for k in c.params}, devices=("cpu",)
        ),
        Implementation("opt.gd", "dup", _gd, devices=("cpu",)),
        Implementation("opt.gd", "dup", _gd, devices=("cpu",)),
    ]
    problems = check_adapter(NumpyAdapter(bad)).problems
    text = "\n".join(problems)
    assert (
        "opt.adm typo: spec ID 'opt.adm' is not in the registry; did you mean 'opt.adam'?" in text
    )
    assert (
        "norm.whiten reference_only: spec ID 'norm.whiten' is checked by the reference only" in text
    )
    assert "opt.gd option: options ['layout']: the optimizers kind reads no options" in text
    assert (
        "opt.gd raises [float32, one_step]: run raised RuntimeError: this implementation always fails"
        in text
    )
    assert "opt.gd wrong_keys [float32, one_step]: run returned: keys ['x'] lack ['w0']" in text
    assert (
        "opt.gd a_list [float32, trajectory]: run returned['w0']: must be a NumPy float array, got list"
        in text
    )
    assert "opt.gd dup: declared twice" in text
    assert all("\n" not in p for p in problems)


def _register(tmp_path: Path, name: str, target: str) -> dict[str, str]:
    """An entry point for ``name`` without installing anything (a dist-info on PYTHONPATH)."""
    dist = tmp_path / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[trainspec.adapters]\n{name} = {target}\n")
    path = [str(tmp_path), str(HERE), os.environ.get("PYTHONPATH", "")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path))


def _trainspec(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainspec", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def test_check_adapter_command_exits_1_with_one_line_per_problem(tmp_path):
    (tmp_path / "typo_adapter.py").write_text(
        textwrap.dedent(
            """
            from numpy_impls import NumpyAdapter, heavy_ball, impl

            def make():
                return NumpyAdapter([impl("opt.momentun", "heavy_ball", heavy_ball)])
            """
        )
    )
    env = _register(tmp_path, "typo", "typo_adapter:make")
    out = _trainspec("check-adapter", "typo", env=env, cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert (
        "typo: opt.momentun heavy_ball: spec ID 'opt.momentun' is not in the registry; did you mean 'opt.momentum'?"
        in out.stdout
    )
    assert "1 problem(s)" in out.stdout
    out = _trainspec("check-adapter", "not_registered", env=env, cwd=tmp_path)
    assert out.returncode == 2 and "not registered" in out.stderr


def test_new_adapter_passes_check_adapter_empty_then_grows_one_id(tmp_path):
    dest = tmp_path / "pkg"
    assert main(["new-adapter", "toyfw", "--dest", str(dest)]) == 0
    src = dest / "src"
    pyproject = (dest / "pyproject.toml").read_text()
    assert 'toyfw = "trainspec_toyfw.adapter:ToyfwAdapter"' in pyproject
    families = src / "trainspec_toyfw" / "families"
    assert {p.stem for p in families.glob("*.py")} >= {"optimizers", "activations", "init"}
    assert "state.buffers[name]" in (families / "optimizers.py").read_text()
    env = _register(src, "toyfw", "trainspec_toyfw.adapter:ToyfwAdapter")
    out = _trainspec("check-adapter", "toyfw", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 implementations" in out.stdout
    # the generated conventions test runs check_adapter too
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(dest / "tests")],
        capture_output=True,
        text=True,
        env=env,
        cwd=dest,
    )
    assert tests.returncode == 0 and "1 passed" in tests.stdout, tests.stdout + tests.stderr
    # one ID: opt.gd in NumPy, added to the generated optimizers module
    module = families / "optimizers.py"
    module.write_text(
        module.read_text().replace(
            "    return []",
            "    return [Implementation('opt.gd', 'numpy_gd', run_gd, ('float32', 'float64'), ('cpu',))]",
        )
        + textwrap.dedent(
            """

            def run_gd(case: OptimizerCase, dtype: str, device: str) -> dict[str, np.ndarray]:
                t = np.dtype(dtype).type
                p = {k: v.astype(t) for k, v in case.params.items()}
                for lr, g in zip(case.learning_rates, case.grads, strict=True):
                    p = {k: p[k] - t(lr) * g[k].astype(t) for k in p}
                return {k: v.astype(np.float64) for k, v in p.items()}
            """
        )
    )
    out = _trainspec("check-adapter", "toyfw", env=env, cwd=tmp_path)
    assert out.returncode == 0 and "1 implementations, 2 calls" in out.stdout, (
        out.stdout + out.stderr
    )
    report = tmp_path / "report"
    out = _trainspec(
        "run",
        "--backend",
        "toyfw",
        "--spec",
        "opt.gd",
        "--profile",
        "quick",
        "--dtype",
        "float64",
        "--report",
        str(report),
        "--strict",
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    rows = json.loads((report / "report.json").read_text())["results"]
    assert [(r["spec_id"], r["verdict"]) for r in rows] == [("opt.gd", "conforms")]


def test_new_adapter_refuses_a_bad_name_or_a_full_folder(tmp_path):
    with pytest.raises(ValueError, match="name='Bad-Name'"):
        new_adapter("Bad-Name", tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("")
    with pytest.raises(ValueError, match="must not exist or be empty"):
        new_adapter("ok", tmp_path / "full")


def test_the_conformance_suite_is_importable_from_the_package():
    from trainspec.conformance.suite import test_conformance

    assert callable(test_conformance.assert_row_conforms) and callable(test_conformance.test_row)
