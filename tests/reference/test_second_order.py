import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.tracked import track_tree
from trainspec.reference.second_order import (
    MODELS,
    gradient,
    gradient_step_change,
    hessian,
    hessian_vector_product,
    loss,
    newton_step,
    optimal_gradient_step,
    taylor_second_order,
)


def _case(model, seed, n=3, m=6):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    if model == "quadratic":
        data = {"A": rng.standard_normal((n, n)), "b": rng.standard_normal(n)}
    elif model == "logistic_regression":
        data = {"X": rng.standard_normal((m, n)), "y": rng.integers(0, 2, m).astype(float)}
    else:
        data = {"X": rng.standard_normal((m, n)), "t": rng.uniform(-1, 1, m)}
    return x, data


def _fd_gradient(f, x, h=1e-6):
    out = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


@settings(max_examples=20, deadline=None)
@given(model=st.sampled_from(MODELS), seed=st.integers(0, 2**32 - 1))
def test_closed_forms_match_finite_differences(model, seed):
    x, data = _case(model, seed)
    g = gradient(model, x, data)
    np.testing.assert_allclose(g, _fd_gradient(lambda y: loss(model, y, data), x), atol=1e-7)
    fd_h = np.stack(
        [_fd_gradient(lambda y, i=i: gradient(model, y, data)[i], x) for i in range(x.size)]
    )
    h = hessian(model, x, data)
    np.testing.assert_allclose(h, fd_h, atol=1e-7)
    np.testing.assert_allclose(h, h.T, rtol=1e-14, atol=1e-300)  # symmetric up to rounding


@settings(max_examples=20, deadline=None)
@given(model=st.sampled_from(MODELS), seed=st.integers(0, 2**32 - 1))
def test_hvp_is_the_directional_derivative_of_the_gradient(model, seed):
    # Pearlmutter (1994): Hv = d/dr grad J(x + r v) at r = 0
    x, data = _case(model, seed)
    v = np.random.default_rng(seed + 1).standard_normal(x.size)
    hv = hessian_vector_product(model, x, data, v)
    np.testing.assert_allclose(hv, hessian(model, x, data) @ v, rtol=1e-12, atol=1e-12)
    r = 1e-6
    fd = (gradient(model, x + r * v, data) - gradient(model, x - r * v, data)) / (2 * r)
    np.testing.assert_allclose(hv, fd, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(model=st.sampled_from(MODELS[1:]), seed=st.integers(0, 2**32 - 1))
def test_taylor_error_is_third_order(model, seed):
    # |J(x0 + s d) - T(s)| = O(s^3): halving s divides the error by about 8
    x0, data = _case(model, seed)
    d = np.random.default_rng(seed + 2).standard_normal(x0.size)
    d /= np.linalg.norm(d)
    j0, g, h = loss(model, x0, data), gradient(model, x0, data), hessian(model, x0, data)
    errs = [
        abs(loss(model, x0 + s * d, data) - taylor_second_order(j0, g, h, s * d))
        for s in (1e-2, 5e-3)
    ]
    third = np.sum(np.abs(data["X"] @ d) ** 3)  # scale of the third derivative along d
    assert errs[0] <= third * 1e-6  # C s^3 with C of the size of the third derivative
    if errs[0] > 1e-12:  # above rounding, the ratio shows the order
        assert 5.0 < errs[0] / errs[1] < 11.0


def test_taylor_is_exact_for_a_quadratic():
    x0, data = _case("quadratic", 3)
    dx = np.array([0.5, -2.0, 1.0])
    j0, g, h = (
        loss("quadratic", x0, data),
        gradient("quadratic", x0, data),
        hessian("quadratic", x0, data),
    )
    assert taylor_second_order(j0, g, h, dx) == pytest.approx(
        loss("quadratic", x0 + dx, data), rel=1e-13
    )


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), eps=st.floats(1e-3, 1.0))
def test_gradient_step_change(seed, eps):
    # Solberg: J(x0 - eps g) = J(x0) - eps g^T g + 1/2 eps^2 g^T H g, exactly for a quadratic
    x0, data = _case("quadratic", seed)
    g, h = gradient("quadratic", x0, data), hessian("quadratic", x0, data)
    change = loss("quadratic", x0 - eps * g, data) - loss("quadratic", x0, data)
    assert change == pytest.approx(gradient_step_change(g, h, eps), rel=1e-9, abs=1e-9)


def test_optimal_step_minimises_along_the_gradient():
    rng = np.random.default_rng(4)
    m = rng.standard_normal((3, 3))
    data = {"A": m @ m.T + np.eye(3), "b": rng.standard_normal(3)}
    x0 = rng.standard_normal(3)
    g, h = gradient("quadratic", x0, data), hessian("quadratic", x0, data)
    eps = optimal_gradient_step(g, h)
    best = loss("quadratic", x0 - eps * g, data)
    for e in (0.9 * eps, 1.1 * eps):
        assert loss("quadratic", x0 - e * g, data) > best
    # a step twice the optimum brings the cost back: 1/2 eps^2 g^T H g = eps g^T g
    assert gradient_step_change(g, h, 2 * eps) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="curvature"):
        optimal_gradient_step(g, -h)


def test_newton_step_solves_a_quadratic_in_one_step():
    rng = np.random.default_rng(5)
    m = rng.standard_normal((4, 4))
    data = {"A": m @ m.T + 4 * np.eye(4), "b": rng.standard_normal(4)}
    x0 = rng.standard_normal(4)
    x1 = newton_step(x0, gradient("quadratic", x0, data), hessian("quadratic", x0, data))
    np.testing.assert_allclose(x1, -np.linalg.solve(data["A"], data["b"]), rtol=1e-12)
    np.testing.assert_allclose(gradient("quadratic", x1, data), 0.0, atol=1e-12)


def test_newton_converges_quadratically_on_logistic_regression():
    rng = np.random.default_rng(6)
    xs = rng.standard_normal((40, 3))
    y = (xs @ np.array([1.0, -1.0, 0.5]) + rng.standard_normal(40) > 0).astype(float)
    data = {"X": xs, "y": y}
    w = np.zeros(3)
    norms = []
    for _ in range(8):
        g = gradient("logistic_regression", w, data)
        norms.append(np.linalg.norm(g))
        w = newton_step(w, g, hessian("logistic_regression", w, data))
    # quadratic convergence: |g_{k+1}| <= C |g_k|^2 once close
    assert norms[7] < 1e-14
    for k in (4, 5):
        assert norms[k + 1] <= 50 * norms[k] ** 2


def test_closed_forms_run_on_tracked_arrays():
    for model in MODELS:
        x, data = _case(model, 7)
        v = np.ones_like(x)
        t = track_tree({"x": x, "v": v, **data}, "float32")
        td = {k: t[k] for k in data}
        h = hessian(model, t["x"], td)
        hv = hessian_vector_product(model, t["x"], td, t["v"])
        np.testing.assert_allclose(h.value, hessian(model, x, data), rtol=1e-15)
        np.testing.assert_allclose(hv.value, hessian(model, x, data) @ v, rtol=1e-12, atol=1e-14)
        assert np.all(hv.err > 0)
        g = gradient(model, t["x"], td)
        assert g.value.shape == x.shape


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: hessian("cubic", np.ones(2), {}), "model='cubic'"),
        (lambda: hessian("quadratic", np.ones(2), {"A": np.ones((2, 2))}), "needs exactly"),
        (
            lambda: hessian("quadratic", np.ones(2), {"A": np.ones((3, 3)), "b": np.ones(2)}),
            "A must be",
        ),
        (
            lambda: gradient("tanh_neuron", np.ones(2), {"X": np.ones((4, 3)), "t": np.ones(4)}),
            "X must be",
        ),
        (
            lambda: loss("quadratic", np.ones((2, 2)), {"A": np.ones((2, 2)), "b": np.ones(2)}),
            "x: must be a vector",
        ),
        (
            lambda: hessian_vector_product(
                "quadratic", np.ones(2), {"A": np.ones((2, 2)), "b": np.ones(2)}, np.ones(3)
            ),
            "v: must have the shape",
        ),
        (lambda: newton_step(np.ones(2), np.ones(2), np.ones((2, 2))), "singular"),
        (lambda: newton_step(np.ones(2), np.ones(3), np.eye(2)), "newton_step"),
        (lambda: newton_step(np.ones(2), np.ones(2), np.eye(2) * np.nan), "finite"),
        (lambda: gradient_step_change(np.ones(2), np.eye(2), float("inf")), "eps=inf"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_entry_is_registered_with_its_sources():
    e = reference.get("opt.second_order")
    assert e.kind == "second_order"
    assert any("Solberg" in c.author for c in e.citations)
    assert any("Pearlmutter" in c.author for c in e.citations)
