import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance import stats
from trainspec.conformance.tracked import Tracked, track_tree
from trainspec.reference.training import (
    early_stopping,
    is_improvement,
    minibatch_indices,
    mlp_backprop,
    mlp_forward,
    mlp_loss,
    run_early_stopping,
)

# ---------------------------------------------------------------------------------------------
# train.early_stopping


def test_padilla_montani_loop_by_hand():
    # best 1.0 at epoch 1; then 4 checks without progress; with max_checks = 3 their loop stops
    # when checks_without_progress > 3, i.e. at the 4th: epoch 5
    losses = [2.0, 1.0, 1.5, 1.0, 1.2, 1.1, 0.5]
    r = run_early_stopping(losses, 3, stop_rule="wait_exceeds_patience")
    assert (r.stop_epoch, r.restored_epoch, r.epochs_run) == (5, 1, 6)
    r = run_early_stopping(losses, 3)  # Keras: stop at the 3rd check without improvement
    assert (r.stop_epoch, r.restored_epoch, r.epochs_run) == (4, 1, 5)


def test_flax_docstring_example():
    # flax.training.early_stopping's docstring: min_delta=1e-3, patience=2 -> "breaking at epoch 7"
    losses = [4, 3, 3, 3, 2, 2, 2, 2, 1, 1]
    r = run_early_stopping(losses, 2, 1e-3, stop_rule="wait_exceeds_patience")
    assert r.stop_epoch == 7


def test_patience_zero_and_one_agree_when_the_wait_reaches_patience():
    losses = [3.0, 2.0, 2.5, 1.0]
    assert run_early_stopping(losses, 0) == run_early_stopping(losses, 1)
    assert run_early_stopping(losses, 0).stop_epoch == 2
    # with the other rule, patience 0 stops at the first check without improvement too
    assert run_early_stopping(losses, 0, stop_rule="wait_exceeds_patience").stop_epoch == 2


def test_min_delta_sized_improvement_is_not_an_improvement_unless_at_least():
    losses = [1.0, 0.75, 0.5]  # improvements of exactly 0.25 (exact in binary)
    strict = run_early_stopping(losses, 1, 0.25)
    assert (strict.stop_epoch, strict.restored_epoch) == (1, 0)
    at_least = run_early_stopping(losses, 1, 0.25, improvement="at_least")
    assert (at_least.stop_epoch, at_least.restored_epoch) == (-1, 2)


def test_exact_tie_keeps_the_earlier_epoch():
    r = run_early_stopping([1.0, 0.5, 0.5, 0.5], 5)
    assert r.restored_epoch == 1 and r.stop_epoch == -1 and r.epochs_run == 4
    assert run_early_stopping([1.0, 0.5, 0.5], 5, improvement="at_least").restored_epoch == 2
    assert run_early_stopping([1.0, 0.5, 0.5], 5, restore="last").restored_epoch == 2


def test_float32_comparison_sees_a_tie_below_float32_resolution():
    best, current = 0.5, 0.5 - 2.0**-40
    assert is_improvement(current, best, 0.0)
    assert not is_improvement(current, best, 0.0, compare_in="float32")
    r = run_early_stopping([0.5, current], 0, compare_in="float32")
    assert (r.stop_epoch, r.restored_epoch) == (1, 0)


def test_baseline_and_start_from_epoch_follow_keras():
    # an improving epoch never stops training, even if the baseline is never beaten
    r = run_early_stopping([1.0, 0.9, 0.8, 0.7], 2, baseline=0.5)
    assert (r.stop_epoch, r.restored_epoch) == (-1, 3)
    # ... but the wait goes on through it: stop one check earlier than without a baseline
    r = run_early_stopping([1.0, 0.9, 0.95, 0.95], 2, baseline=0.5)
    assert (r.stop_epoch, r.restored_epoch) == (2, 1)
    assert run_early_stopping([1.0, 0.9, 0.95, 0.95], 2).stop_epoch == 3
    r = run_early_stopping([1.0, 0.9, 0.4, 0.45, 0.46], 2, baseline=0.5)
    assert (r.stop_epoch, r.restored_epoch) == (4, 2)
    # epochs before start_from_epoch are not monitored: 0.1 at epoch 0 is ignored
    r = run_early_stopping([0.1, 1.0, 2.0, 3.0], 2, start_from_epoch=1)
    assert (r.stop_epoch, r.restored_epoch) == (3, 1)
    r = run_early_stopping([0.1, 1.0], 2, start_from_epoch=5)
    assert (r.stop_epoch, r.restored_epoch, r.epochs_run) == (-1, 1, 2)


def test_state_is_a_pure_state_machine():
    es = early_stopping(1)
    s0 = es.init()
    s1 = es.update(s0, 1.0)
    assert s0.epoch == 0 and s0.best == math.inf and s1.epoch == 1 and s1.best == 1.0
    s2 = es.update(s1, 2.0)
    assert s2.stopped and s2.stop_epoch == 1 and not s1.stopped
    assert es.update(s2, 0.0).best == 1.0  # nothing changes after stopping but the count


losses_st = st.lists(st.integers(0, 8).map(lambda k: k / 4), min_size=1, max_size=25)


@settings(max_examples=200)
@given(losses=losses_st, patience=st.integers(0, 5), delta=st.sampled_from([0.0, 0.25, 0.5]))
def test_properties_of_every_variant(losses, patience, delta):
    a = run_early_stopping(losses, patience, delta)
    b = run_early_stopping(losses, patience, delta, stop_rule="wait_exceeds_patience")
    # the restored epoch is the first epoch of the minimum (strict, delta 0)
    if delta == 0.0:
        assert a.restored_epoch == int(np.argmin(losses[: a.epochs_run]))
    # the best epoch's loss is never beaten by more than delta afterwards (strict)
    best = losses[a.restored_epoch]
    assert all(best - x <= delta for x in losses[a.restored_epoch : a.epochs_run])
    # stopping one check later never stops earlier, and restores the same or a later best
    assert b.epochs_run >= a.epochs_run
    if a.stop_epoch >= 0:
        assert a.stop_epoch - a.restored_epoch >= max(patience, 1) or delta > 0
        assert b.stop_epoch == -1 or b.stop_epoch >= a.stop_epoch + (patience >= 1)
    # stopping when the wait exceeds P is stopping when it reaches P + 1
    assert b == run_early_stopping(losses, patience + 1, delta)
    # a larger patience never stops earlier
    c = run_early_stopping(losses, patience + 1, delta)
    assert c.epochs_run >= a.epochs_run


def test_solberg_erratum_is_shown():
    (erratum,) = reference.get("train.early_stopping").errata
    ev = erratum.check()
    assert ev.shows_difference, ev
    assert ev.printed_error >= 5  # stops in the underfitting phase, far from the minimum


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: early_stopping(-1), ValueError, "patience=-1"),
        (lambda: early_stopping(1.5), TypeError, "patience=1.5"),
        (lambda: early_stopping(1, -0.1), ValueError, "min_delta=-0.1"),
        (lambda: early_stopping(1, stop_rule="never"), ValueError, "stop_rule='never'"),
        (lambda: early_stopping(1, baseline=math.nan), ValueError, "baseline=nan"),
        (lambda: run_early_stopping([], 1), ValueError, "at least one epoch"),
        (lambda: run_early_stopping([1.0, math.nan], 1), ValueError, r"validation_losses\[1\]"),
        (lambda: run_early_stopping("abc", 1), TypeError, "validation_losses"),
        (lambda: run_early_stopping([1.0], 1, restore="worst"), ValueError, "restore='worst'"),
        (lambda: early_stopping(1).update((0, 1), 1.0), TypeError, "EarlyStoppingState"),
    ],
)
def test_early_stopping_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# train.minibatch (statistical checks at the false-alarm rate stats.ALPHA per test)


@pytest.mark.parametrize("split", ["array_split", "slices", "drop_remainder"])
@pytest.mark.parametrize("n, b", [(10, 3), (12, 4), (7, 7), (5, 1)])
def test_permutation_visits_every_index_once_per_epoch(split, n, b):
    rng = np.random.default_rng(0)
    for _ in range(20):
        batches = minibatch_indices(n, b, rng, split=split)
        flat = np.concatenate(batches)
        if split == "drop_remainder":
            assert len(flat) == n - n % b and len(set(flat.tolist())) == len(flat)
            assert all(len(x) == b for x in batches)
        else:
            assert sorted(flat.tolist()) == list(range(n))
        if split == "array_split":  # Padilla Montani: floor(N/B) batches, sizes within one
            sizes = [len(x) for x in batches]
            assert len(batches) == n // b and max(sizes) - min(sizes) <= 1
        if split == "slices":
            assert [len(x) for x in batches[:-1]] == [b] * (len(batches) - 1)


def _bonferroni_binomial(counts, trials, p):
    """The smallest per-index binomial p-value, Bonferroni-corrected over the indices."""
    worst = min(stats.binomial_pvalue(int(k), trials, p) for k in counts)
    return min(1.0, worst * len(counts))


def test_permutation_is_uniform():
    # over E epochs, index i lands in the first batch Binomial(E, B/N) times, for every i
    n, b, epochs = 20, 5, 4000
    rng = np.random.default_rng(1)
    counts = np.zeros(n, dtype=int)
    for _ in range(epochs):
        counts[minibatch_indices(n, b, rng, split="slices")[0]] += 1
    assert _bonferroni_binomial(counts, epochs, b / n) >= stats.ALPHA


def test_with_replacement_counts_are_binomial():
    n, b, epochs = 30, 7, 500
    rng = np.random.default_rng(2)
    counts = np.zeros(n, dtype=int)
    per_epoch = []
    for _ in range(epochs):
        batches = minibatch_indices(n, b, rng, sampling="with_replacement")
        assert len(batches) == math.ceil(n / b) and all(len(x) == b for x in batches)
        flat = np.concatenate(batches)
        counts += np.bincount(flat, minlength=n)
        per_epoch.append(len(set(flat.tolist())))
    draws = epochs * b * math.ceil(n / b)
    assert _bonferroni_binomial(counts, draws, 1 / n) >= stats.ALPHA
    # with replacement, an epoch almost never visits every index (it does with a permutation)
    assert np.mean(per_epoch) < n - 5


def test_the_count_test_rejects_a_biased_sampler():
    # negative control: index n-1 never drawn (rng.integers(0, n - 1)) must fail the same test
    n, b, epochs = 30, 7, 500
    rng = np.random.default_rng(3)
    counts = np.zeros(n, dtype=int)
    for _ in range(epochs):
        counts += np.bincount(rng.integers(0, n - 1, size=b * 5), minlength=n)
    assert _bonferroni_binomial(counts, epochs * b * 5, 1 / n) < stats.ALPHA


def test_minibatches_depend_only_on_the_generator():
    a = minibatch_indices(50, 8, np.random.default_rng(7))
    b = minibatch_indices(50, 8, np.random.default_rng(7))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: minibatch_indices(0, 1, np.random.default_rng()), ValueError, "n=0"),
        (lambda: minibatch_indices(5, 6, np.random.default_rng()), ValueError, "batch_size=6"),
        (lambda: minibatch_indices(5, 2, np.random.RandomState(0)), TypeError, "rng"),
        (lambda: minibatch_indices(5, 2, None), TypeError, "Generator"),
        (
            lambda: minibatch_indices(5, 2, np.random.default_rng(), sampling="bootstrap"),
            ValueError,
            "sampling='bootstrap'",
        ),
    ],
)
def test_minibatch_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# train.backprop


def _mlp(rng, sizes):
    return {
        **{f"W{k}": rng.standard_normal((sizes[k], sizes[k - 1])) for k in range(1, len(sizes))},
        **{f"b{k}": rng.standard_normal(sizes[k]) for k in range(1, len(sizes))},
    }


def test_backprop_by_hand_one_neuron():
    # y = tanh(w x + b), E = 1/2 (t - y)^2: dE/dw = -(t - y)(1 - y^2) x (Zheng)
    w, b, x, t = 0.5, -0.25, 2.0, 1.0
    y = math.tanh(w * x + b)
    g = mlp_backprop(
        {"W1": np.array([[w]]), "b1": np.array([b])}, np.array([[x]]), np.array([[t]]), ["tanh"]
    )
    assert g["W1"][0, 0] == pytest.approx(-(t - y) * (1 - y * y) * x, rel=1e-15)
    assert g["b1"][0] == pytest.approx(-(t - y) * (1 - y * y), rel=1e-15)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    acts=st.lists(st.sampled_from(["tanh", "sigmoid", "identity"]), min_size=1, max_size=3),
    loss=st.sampled_from(["half_sse", "mse"]),
)
def test_backprop_matches_central_differences(seed, acts, loss):
    rng = np.random.default_rng(seed)
    sizes = [3, *rng.integers(1, 4, size=len(acts) - 1).tolist(), 2]
    params = _mlp(rng, sizes)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    grads = mlp_backprop(params, x, t, acts, loss)
    h = 1e-6
    for k, p in params.items():
        for idx in np.ndindex(p.shape):
            up = {**params, k: p.copy()}
            dn = {**params, k: p.copy()}
            up[k][idx] += h
            dn[k][idx] -= h
            fd = (mlp_loss(up, x, t, acts, loss) - mlp_loss(dn, x, t, acts, loss)) / (2 * h)
            assert grads[k][idx] == pytest.approx(fd, rel=1e-6, abs=1e-8), (k, idx)


def test_relu_derivative_at_zero_is_a_convention():
    # z = 0 exactly in the first unit: the two conventions differ there and only there
    params = {"W1": np.array([[1.0], [1.0]]), "b1": np.array([0.0, 1.0])}
    x, t = np.array([[0.0]]), np.array([[1.0, 1.0]])
    zero = mlp_backprop(params, x, t, ["relu"])
    one = mlp_backprop(params, x, t, ["relu"], relu_grad_at_zero="one")
    assert zero["b1"].tolist() == [0.0, 0.0] and one["b1"].tolist() == [-1.0, 0.0]
    assert reference.get("train.backprop").variant(relu_grad_at_zero="one").name == (
        "relu_grad_at_zero=one"
    )


def test_backprop_runs_on_tracked_arrays():
    rng = np.random.default_rng(5)
    params = _mlp(rng, [3, 4, 2])
    x, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    plain = mlp_backprop(params, x, t, ["relu", "sigmoid"], "mse")
    tp = track_tree(params, "float32")
    tracked = mlp_backprop(
        tp,
        Tracked(x, 0.0, tp["W1"].u),
        Tracked(t, 0.0, tp["W1"].u),
        ["relu", "sigmoid"],
        "mse",
    )
    for k in params:
        np.testing.assert_array_equal(tracked[k].value, plain[k])
        assert np.all(tracked[k].err > 0)  # float32 rounding is bounded, never zero
        assert np.all(tracked[k].err < 1e-4 * (1 + np.abs(plain[k])))


def test_forward_shapes():
    rng = np.random.default_rng(6)
    params = _mlp(rng, [3, 5, 2])
    zs, hs = mlp_forward(params, rng.standard_normal((4, 3)), ["tanh", "identity"])
    assert [z.shape for z in zs] == [(4, 5), (4, 2)] and len(hs) == 3


@pytest.mark.parametrize(
    "params, x, acts, match",
    [
        ({"W1": np.ones((2, 3))}, np.ones((1, 3)), ["tanh"], "W1, b1"),
        ({"W1": np.ones((2, 3)), "b1": np.ones(3)}, np.ones((1, 3)), ["tanh"], "b1"),
        (
            {"W1": np.ones((2, 3)), "b1": np.ones(2), "W2": np.ones((1, 3)), "b2": np.ones(1)},
            np.ones((1, 3)),
            ["tanh", "tanh"],
            "W2 takes 3 inputs",
        ),
        ({"W1": np.ones((2, 3)), "b1": np.ones(2)}, np.ones((1, 4)), ["tanh"], "x: must be"),
        ({"W1": np.ones((2, 3)), "b1": np.ones(2)}, np.ones((1, 3)), ["swish"], "activations"),
        ({"W1": np.ones((2, 3)), "b1": np.ones(2)}, np.ones((1, 3)), [], "one activation"),
    ],
)
def test_backprop_bad_input(params, x, acts, match):
    with pytest.raises(ValueError, match=match):
        mlp_backprop(params, x, np.ones((1, 2)), acts)


def test_backprop_bad_loss_and_targets():
    params = {"W1": np.ones((2, 3)), "b1": np.ones(2)}
    with pytest.raises(ValueError, match="loss='l1'"):
        mlp_backprop(params, np.ones((1, 3)), np.ones((1, 2)), ["tanh"], "l1")
    with pytest.raises(ValueError, match="t: shape"):
        mlp_backprop(params, np.ones((1, 3)), np.ones((1, 3)), ["tanh"])


def test_float32_comparison_honours_the_improvement_rule():
    assert not is_improvement(0.75, 1.0, 0.25, compare_in="float32")
    assert is_improvement(0.75, 1.0, 0.25, improvement="at_least", compare_in="float32")
