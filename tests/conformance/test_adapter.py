import numpy as np
import pytest

from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds.optimizers import OptimizerCase
from trainspec.reference.optimizers.common import CanonicalState


def test_implementation_checks_dtypes_and_devices():
    with pytest.raises(ValueError, match=r"dtypes \['float8'\] must be among"):
        Implementation("opt.gd", "x", lambda c, d, dev: {}, dtypes=("float8",))
    with pytest.raises(ValueError, match=r"devices \['tpu'\] must be among"):
        Implementation("opt.gd", "x", lambda c, d, dev: {}, devices=("tpu",))


def test_case_summary_is_json_able_and_summarises_large_arrays():
    case = OptimizerCase(
        params={"w": np.arange(20.0), "b": np.array(1.5)},
        grads=[{"w": np.ones(20), "b": np.array(0.5)}],
        learning_rates=[0.1],
        hyperparameters={"momentum": 0.9},
        state=CanonicalState(4, {"trace": {"w": np.zeros(20), "b": np.array(0.0)}}),
    )
    s = case.summary()
    assert s["params"]["b"] == 1.5
    assert s["params"]["w"]["shape"] == [20] and s["params"]["w"]["max"] == 19.0
    assert s["state"]["count"] == 4 and case.steps == 1


def test_family_implementations_collects_every_submodule_in_name_order(tmp_path, monkeypatch):
    from trainspec.conformance.adapter import family_implementations

    pkg = tmp_path / "fampkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    body = (
        "from trainspec.conformance.adapter import Implementation\n"
        "def implementations():\n"
        "    return [Implementation('opt.gd', {name!r}, lambda c, d, dev: {{}})]\n"
    )
    (pkg / "b_family.py").write_text(body.format(name="from b"))
    (pkg / "a_family.py").write_text(body.format(name="from a"))
    (pkg / "helpers.py").write_text("X = 1\n")  # no implementations(): skipped
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [i.name for i in family_implementations("fampkg")] == ["from a", "from b"]
