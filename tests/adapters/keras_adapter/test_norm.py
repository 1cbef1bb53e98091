"""Keras batch normalisation: momentum and axis mappings, a run by hand, planted faults."""

from functools import partial

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainspec.adapters.keras_adapter.norm import (
    implementations,
    keras_axis,
    keras_momentum,
    run_keras_batchnorm,
)
from trainspec.conformance.kinds.norm import BatchNormCase, BatchNormRun


def test_keras_momentum_weights_the_old_value():
    assert keras_momentum(0.9) == 0.9
    layer = keras.layers.BatchNormalization(momentum=keras_momentum(0.75), dtype="float64")
    layer(np.array([[1.0], [3.0]]), training=True)
    # moving = moving * momentum + mean * (1 - momentum), from 0
    assert float(layer.moving_mean.numpy()[0]) == 0.25 * 2.0


def test_keras_axis_follows_the_layout():
    assert keras_axis("channels_last") == -1 and keras_axis("channels_first") == 1
    with pytest.raises(ValueError, match="layout"):
        keras_axis("NHWC")


def _case(layout="channels_first", x=None, gamma=None):
    x = np.array([[1.0, 10.0], [3.0, 10.0]]) if x is None else x
    c = x.shape[1 if layout == "channels_first" else -1]
    return BatchNormCase(
        layout,
        (x,),
        (np.ones_like(x) * np.arange(x.size).reshape(x.shape) % 3,),
        x[::-1].copy(),
        np.ones(c) if gamma is None else gamma,
        np.zeros(c),
        0.25,
        0.75,
        np.zeros(c),
        np.ones(c),
    )


@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_one_step_by_hand(layout):
    case = _case()
    run = run_keras_batchnorm(case, "float64", "cpu", layout=layout)
    s = np.sqrt(1.25)
    np.testing.assert_allclose(run.outputs[0], [[-1 / s, 0.0], [1 / s, 0.0]], rtol=1e-14)
    np.testing.assert_allclose(run.running_mean[0], [0.5, 2.5], rtol=1e-15)
    # Keras's moving variance is the biased one: 0.75 * 1 + 0.25 * 1
    np.testing.assert_allclose(run.running_var[0], [1.0, 0.75], rtol=1e-15)
    np.testing.assert_array_equal(case.upstream[0], [[0.0, 1.0], [2.0, 0.0]])
    np.testing.assert_allclose(run.dbeta[0], [2.0, 1.0], rtol=1e-15)
    # dgamma = sum dy * xhat: channel 0 has xhat = -+1/s, dy = [0, 2]
    np.testing.assert_allclose(run.dgamma[0], [2.0 / s, 0.0], atol=1e-15)
    np.testing.assert_allclose(run.test_output[:, 0], (np.array([3.0, 1.0]) - 0.5) / np.sqrt(1.25))


def test_image_layouts_agree():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 2, 2))  # NCHW
    case_cf = _case("channels_first", x, np.array([1.0, 2.0, -1.0]))
    a = run_keras_batchnorm(case_cf, "float64", "cpu", layout="channels_first")
    b = run_keras_batchnorm(case_cf, "float64", "cpu", layout="channels_last")
    np.testing.assert_allclose(a.outputs[0], b.outputs[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.dx[0], b.dx[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.outputs[0].mean(axis=(0, 2, 3)), 0.0, atol=1e-12)


def test_rows_cover_every_id_and_both_axes():
    names = {(i.spec_id, i.name) for i in implementations()}
    assert ("norm.batch.running", "keras.layers.BatchNormalization(axis=-1)") in names
    assert ("norm.batch.train", "keras.layers.BatchNormalization(axis=1)") in names
    assert {s for s, _ in names} == {
        "norm.batch.train",
        "norm.batch.running",
        "norm.batch.test",
        "norm.batch.grad",
    }


# --- planted faults: real Keras/TensorFlow, wrong use; the kit must report diverges -----------


def _unbiased_normalisation(case, dtype, device):
    """Fault: tf.nn.batch_normalization with the unbiased batch variance."""
    honest = run_keras_batchnorm(case, dtype, device)
    outs = []
    for x in case.batches:
        xt = tf.constant(x, dtype=dtype)
        axes = [
            a for a in range(x.ndim) if a != (1 if case.layout == "channels_first" else x.ndim - 1)
        ]
        mean, var = tf.nn.moments(xt, axes, keepdims=True)
        m = x.size // case.channels
        var = var * (m / (m - 1))
        shape = [1] * x.ndim
        shape[1 if case.layout == "channels_first" or x.ndim == 2 else -1] = case.channels
        y = tf.nn.batch_normalization(
            xt,
            mean,
            var,
            tf.constant(case.beta.reshape(shape), dtype=dtype),
            tf.constant(case.gamma.reshape(shape), dtype=dtype),
            case.eps,
        )
        outs.append(np.asarray(y, dtype=np.float64))
    return BatchNormRun(
        outs,
        honest.dx,
        honest.dgamma,
        honest.dbeta,
        honest.running_mean,
        honest.running_var,
        honest.test_output,
    )


def test_planted_unbiased_normalisation_diverges(assert_planted_fault_diverges):
    assert_planted_fault_diverges(
        "tensorflow",
        "norm.batch.train",
        "unbiased variance in the normalisation",
        _unbiased_normalisation,
    )


def test_planted_flipped_momentum_diverges(assert_planted_fault_diverges):
    flipped = partial(run_keras_batchnorm, momentum=lambda w: 1.0 - w)  # PyTorch's convention
    assert_planted_fault_diverges("tensorflow", "norm.batch.running", "momentum flipped", flipped)
