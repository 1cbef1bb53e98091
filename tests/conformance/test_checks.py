import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numpy_impls import heavy_ball

from trainspec import reference
from trainspec.conformance.checks import (
    _run,
    compare_trees,
    evaluate_example,
    reference_optimizer_run,
)
from trainspec.conformance.strategies import draw_optimizer_case
from trainspec.conformance.tolerance import Tracked


@given(data=st.data())
def test_flattened_reference_equals_the_per_tensor_reference(data):
    """The speed-up for elementwise optimizers must not change a single number or bound."""
    entry = reference.get(
        data.draw(st.sampled_from(["opt.momentum", "opt.weight_decay", "opt.adam"]))
    )
    variant = data.draw(st.sampled_from(list(entry.variants())), label="variant")
    case = draw_optimizer_case(
        data, entry, "float32", data.draw(st.sampled_from(["one_step", "trajectory"]))
    )
    flat = reference_optimizer_run(entry.model, variant, case, "float32")
    per_tensor = _run(entry.model, variant, case, "float32")
    for k in case.params:
        np.testing.assert_array_equal(flat[k].value, per_tensor[k].value)
        np.testing.assert_array_equal(flat[k].err, per_tensor[k].err)


@given(data=st.data())
def test_evaluate_example_compares_every_requested_variant(data):
    entry = reference.get("opt.momentum")
    case = draw_optimizer_case(data, entry, "float64", "trajectory")
    from trainspec.conformance.adapter import Implementation

    impl = Implementation(
        "opt.momentum", "np", lambda c, d, dev: heavy_ball(c, d, dev), devices=("cpu",)
    )
    variants = list(entry.variants())
    result = evaluate_example(entry, impl, case, "float64", "cpu", variants)
    assert set(result.per_variant) == set(variants)
    assert result.per_variant[entry.variant(form="eta_outside")].passes


def test_compare_trees_names_the_worst_tensor_and_rejects_other_names():
    exp = {"a": Tracked(np.zeros(2), 1e-9, 0.0), "b": Tracked(np.zeros(2), 1e-9, 0.0)}
    c = compare_trees({"a": np.zeros(2), "b": np.array([0.0, 1.0])}, exp, "float32")
    assert c.where == "b" and not c.passes
    try:
        compare_trees({"a": np.zeros(2)}, exp, "float32")
    except ValueError as e:
        assert "expected ['a', 'b']" in str(e)
    else:
        raise AssertionError("a missing tensor must be an error")
