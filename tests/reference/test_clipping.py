import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.tracked import Tracked, track_scalar, track_tree
from trainspec.reference.base import apply_updates, chain
from trainspec.reference.clipping import (
    NonFiniteNormError,
    clip_by_global_norm,
    clip_by_norm,
    clip_by_value,
    global_norm,
)
from trainspec.reference.optimizers.weight_decay import sgd

G = {"a": np.array([3.0, 4.0]), "b": np.array([[0.0, 12.0]])}  # norms 5 and 12, global 13


def clip(t, g=G):
    return t.update(g, t.init(g))[0]


def test_by_value_by_hand():
    out = clip(clip_by_value(3.5))
    np.testing.assert_array_equal(out["a"], [3.0, 3.5])
    np.testing.assert_array_equal(out["b"], [[0.0, 3.5]])
    out = clip(clip_by_value(1.0), {"w": np.array([-np.inf, np.inf, np.nan, -0.5])})
    np.testing.assert_array_equal(out["w"], [-1.0, 1.0, np.nan, -0.5])


def test_by_norm_by_hand():
    out = clip(clip_by_norm(6.0))
    np.testing.assert_array_equal(out["a"], [3.0, 4.0])  # norm 5 <= 6: unchanged
    np.testing.assert_allclose(out["b"], [[0.0, 6.0]], rtol=1e-15)


def test_by_global_norm_by_hand():
    assert float(global_norm(G)) == 13.0
    out = clip(clip_by_global_norm(6.5))
    np.testing.assert_allclose(out["a"], [1.5, 2.0], rtol=1e-15)
    np.testing.assert_allclose(out["b"], [[0.0, 6.0]], rtol=1e-15)


def test_global_norm_is_not_the_per_tensor_norm():
    g = clip(clip_by_global_norm(12.0))
    n = clip(clip_by_norm(12.0))
    assert not np.allclose(g["b"], n["b"])  # per tensor, b (norm 12) is left alone


def test_rms_measure_is_the_norm_over_root_n():
    g = {"w": np.array([1.0, 2.0, 2.0, 4.0])}  # norm 5, rms 2.5
    np.testing.assert_allclose(
        clip(clip_by_norm(1.25, measure="rms"), g)["w"], clip(clip_by_norm(2.5), g)["w"], rtol=1e-15
    )


def test_torch_eps_rescales_at_the_threshold():
    g = {"w": np.array([3.0, 4.0])}
    np.testing.assert_array_equal(clip(clip_by_global_norm(5.0), g)["w"], [3.0, 4.0])
    eps = clip(clip_by_global_norm(5.0, norm_eps="plus_1e-6"), g)["w"]
    np.testing.assert_allclose(eps, np.array([3.0, 4.0]) * 5.0 / (5.0 + 1e-6), rtol=1e-15)
    assert eps[1] < 4.0


@pytest.mark.parametrize("factory", [clip_by_value, clip_by_norm, clip_by_global_norm])
def test_zero_gradients_stay_zero_without_warnings(factory):
    g = {"a": np.zeros(3), "b": np.zeros((2, 2))}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = clip(factory(1.0), g)
    for k in g:
        np.testing.assert_array_equal(out[k], g[k])


trees = st.lists(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=6), min_size=1, max_size=3
).map(lambda ls: {f"w{i}": np.array(v) for i, v in enumerate(ls)})


@given(g=trees, k=st.floats(1e-3, 1e3))
def test_clipped_norms_are_at_most_k_and_directions_are_kept(g, k):
    per = clip(clip_by_norm(k), g)
    for name, v in g.items():
        n = np.linalg.norm(v)
        out = per[name]
        assert np.linalg.norm(out) <= k * (1 + 1e-12) + 1e-300
        if n <= k:
            np.testing.assert_allclose(out, v, rtol=1e-15)
        else:  # parallel and shorter: out = c * v with 0 <= c < 1
            np.testing.assert_allclose(out, v * (k / n), rtol=1e-12, atol=1e-300)
    glob = clip(clip_by_global_norm(k), g)
    n = np.sqrt(sum(np.sum(v**2) for v in g.values()))
    assert float(global_norm(glob)) <= k * (1 + 1e-12) + 1e-300
    scale = min(1.0, k / n) if n > 0 else 1.0
    for name, v in g.items():
        np.testing.assert_allclose(glob[name], v * scale, rtol=1e-12, atol=1e-300)


@given(g=trees, k=st.floats(1e-3, 1e3))
def test_value_clipping_bounds_every_component(g, k):
    out = clip(clip_by_value(k), g)
    for name, v in g.items():
        assert np.all(np.abs(out[name]) <= k)
        np.testing.assert_array_equal(out[name], np.clip(v, -k, k))


G_INF = {"a": np.array([np.inf, 1.0]), "b": np.array([2.0])}
G_NAN = {"a": np.array([np.nan, 1.0]), "b": np.array([2.0])}


def test_nonfinite_variants():
    with np.errstate(invalid="ignore"):
        ieee = clip(clip_by_global_norm(1.0), G_INF)
        np.testing.assert_array_equal(ieee["a"], [np.nan, 0.0])
        np.testing.assert_array_equal(ieee["b"], [0.0])
        assert np.all(np.isnan(clip(clip_by_global_norm(1.0), G_NAN)["b"]))
        nan = clip(clip_by_global_norm(1.0, nonfinite="all_nan"), G_INF)
        assert all(np.all(np.isnan(v)) for v in nan.values())
        skip = clip(clip_by_global_norm(1.0, nonfinite="skip"), G_NAN)
        assert all(np.all(v == 0.0) for v in skip.values())
        with pytest.raises(NonFiniteNormError, match="not finite"):
            clip(clip_by_global_norm(1.0, nonfinite="raise"), G_INF)
    # finite gradients: every non-finite policy is the same
    for mode in ("all_nan", "raise", "skip"):
        for k in G:
            np.testing.assert_array_equal(
                clip(clip_by_global_norm(6.5, nonfinite=mode))[k], clip(clip_by_global_norm(6.5))[k]
            )


def test_chains_with_an_optimizer():
    params = {"a": np.zeros(2), "b": np.zeros((1, 2))}
    opt = chain(clip_by_global_norm(6.5), sgd(0.5))
    u, _ = opt.update(G, opt.init(params), params)
    out = apply_updates(params, u)
    np.testing.assert_allclose(out["a"], [-0.75, -1.0], rtol=1e-15)


def test_runs_on_tracked_arrays_with_a_finite_bound():
    g = track_tree(G, "float32")
    k = track_scalar(6.5, "float32")
    for t in (clip_by_value(k), clip_by_norm(k), clip_by_global_norm(k, norm_eps="plus_1e-6")):
        out = t.update(g, t.init(g))[0]
        for v in out.values():
            assert isinstance(v, Tracked) and np.all(np.isfinite(v.err))
    # the bound covers every evaluation order: at the threshold it is not zero
    at = clip_by_global_norm(track_scalar(13.0, "float32"))
    out = at.update(g, at.init(g))[0]
    assert np.max(out["b"].err) > 0


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan])
def test_bad_threshold(bad):
    for factory in (clip_by_value, clip_by_norm, clip_by_global_norm):
        with pytest.raises(ValueError, match="threshold"):
            factory(bad)
    with pytest.raises(TypeError, match="threshold"):
        clip_by_norm("1")


def test_bad_options_and_trees():
    with pytest.raises(ValueError, match="norm_eps"):
        clip_by_norm(1.0, norm_eps="1e-7")
    with pytest.raises(ValueError, match="measure"):
        clip_by_norm(1.0, measure="l1")
    with pytest.raises(ValueError, match="nonfinite"):
        clip_by_global_norm(1.0, nonfinite="ignore")
    with pytest.raises(TypeError, match="updates"):
        clip_by_global_norm(1.0).update([np.ones(2)], ())
    with pytest.raises(ValueError, match="updates"):
        clip_by_value(1.0).update({}, ())


def test_entries_are_registered_with_their_variants():
    assert reference.get("clip.value").kind == "clipping"
    axes = {a.name for a in reference.get("clip.global_norm").variant_axes}
    assert axes == {"norm_eps", "nonfinite"}
    assert {a.name for a in reference.get("clip.norm").variant_axes} == {"norm_eps", "measure"}
    m = reference.get("clip.global_norm").model
    assert m.measures(G) == [13.0]
