"""keras.callbacks.EarlyStopping and GradientTape through Dense: conversions, by hand, rows,
the float32 comparison, planted faults."""

import numpy as np
import tensorflow as tf

from trainspec import reference
from trainspec.adapters.keras_adapter.training import (
    epoch_weights,
    implementations,
    kernel_from_weight,
    restored_epoch,
    run_backprop,
    run_early_stopping,
)
from trainspec.conformance.kinds.training.backprop import BackpropCase
from trainspec.conformance.kinds.training.early_stopping import EarlyStoppingCase
from trainspec.conformance.runner import check_row
from trainspec.reference.training import run_early_stopping as reference_run

ES = reference.get("train.early_stopping")


def test_kernel_from_weight_is_the_transpose_and_its_own_inverse():
    w = np.arange(6.0).reshape(2, 3)  # (out, in)
    k = kernel_from_weight(w)
    assert k.shape == (3, 2) and k[2, 1] == w[1, 2]
    np.testing.assert_array_equal(kernel_from_weight(k), w)


def test_epoch_weights_round_trip():
    for e in (0, 1, 29):
        assert restored_epoch(epoch_weights(e)) == e


def test_early_stopping_by_hand():
    case = EarlyStoppingCase((2.0, 1.0, 1.5, 1.0, 1.2, 1.1, 0.5), 3, 0.0)
    # best 1.0 at epoch 1 (the tie at epoch 3 does not count); 3rd check without improvement: 4
    assert run_early_stopping(case, "float64", "cpu") == {"stop_epoch": 4, "restored_epoch": 1}
    last = run_early_stopping(case, "float64", "cpu", restore_best_weights=False)
    assert last == {"stop_epoch": 4, "restored_epoch": 4}


def test_patience_zero_and_one_stop_alike():
    for p in (0, 1):
        case = EarlyStoppingCase((3.0, 2.0, 2.5, 1.0), p, 0.0)
        assert run_early_stopping(case, "float64", "cpu")["stop_epoch"] == 2


def test_min_delta_sized_improvement_is_not_an_improvement():
    case = EarlyStoppingCase((1.0, 0.75, 0.5), 1, 0.25)
    assert run_early_stopping(case, "float64", "cpu") == {"stop_epoch": 1, "restored_epoch": 0}


def test_float32_comparison_of_float64_losses():
    """Keras compares Python floats with ops.less, in floatx (float32): an improvement below
    float32's resolution is a tie (the variant compare_in=float32)."""
    case = EarlyStoppingCase((0.5, 0.5 - 2.0**-40), 0, 0.0)
    keras_result = run_early_stopping(case, "float64", "cpu")
    assert keras_result == {"stop_epoch": 1, "restored_epoch": 0}
    assert reference_run(list(case.losses), 0).stop_epoch == -1
    r = reference_run(list(case.losses), 0, compare_in="float32")
    assert (r.stop_epoch, r.restored_epoch) == (1, 0)


def test_baseline_and_start_from_epoch_match_the_reference():
    """The reference's Keras options (not drawn by the kit) against the real callback."""
    from keras.callbacks import EarlyStopping

    from trainspec.adapters.keras_adapter.training import _epoch_model

    for losses, options in [
        ([1.0, 0.9, 0.95, 0.95], {"baseline": 0.5}),
        ([1.0, 0.9, 0.4, 0.45, 0.46], {"baseline": 0.5}),
        ([0.1, 1.0, 2.0, 3.0], {"start_from_epoch": 1}),
    ]:
        model = _epoch_model()
        cb = EarlyStopping(patience=2, restore_best_weights=True, **options)
        cb.set_model(model)
        model.stop_training = False
        cb.on_train_begin()
        stop = -1
        for e, loss in enumerate(losses):
            model.set_weights(epoch_weights(e))
            cb.on_epoch_end(e, {"val_loss": loss})
            if model.stop_training:
                stop = e
                break
        cb.on_train_end()
        expected = reference_run(losses, 2, **options)
        assert (stop, restored_epoch(model.get_weights())) == (
            expected.stop_epoch,
            expected.restored_epoch,
        ), (losses, options)


def test_rows():
    expected = {
        ("callbacks.EarlyStopping(restore_best_weights=True)", "float32"): ("conforms", "default"),
        ("callbacks.EarlyStopping(restore_best_weights=True)", "float64"): (
            "variant",
            "compare_in=float32",
        ),
        ("callbacks.EarlyStopping()", "float32"): ("variant", "restore=last"),
        ("callbacks.EarlyStopping()", "float64"): ("variant", "restore=last, compare_in=float32"),
    }
    for impl in implementations():
        if impl.spec_id != "train.early_stopping":
            continue
        for dtype in ("float32", "float64"):
            # float64 rows need the ci profile's examples to meet a sub-float32 improvement
            profile = "ci" if dtype == "float64" else "quick"
            row = check_row(ES, impl, "tensorflow", dtype, "cpu", profile=profile)
            assert (row.verdict, row.variant) == expected[(impl.name, dtype)], row


def test_planted_fault_patience_counted_from_the_wrong_check(assert_planted_fault_diverges):
    def run(case, dtype, device):
        return run_early_stopping(case, dtype, device, patience_offset=2)

    assert_planted_fault_diverges("tensorflow", "train.early_stopping", "patience + 2", run)


def test_backprop_by_hand():
    case = BackpropCase(
        {"W1": np.array([[0.5, -1.0]]), "b1": np.array([0.25])},
        np.array([[2.0, 1.0]]),
        np.array([[1.0]]),
        ("identity",),
        "half_sse",
    )
    # y = 0.5*2 - 1 + 0.25 = 0.25; dE/dy = y - t = -0.75; dE/dW = -0.75 * x
    out = run_backprop(case, "float64", "cpu")
    np.testing.assert_array_equal(out["W1"], [[-1.5, -0.75]])
    np.testing.assert_array_equal(out["b1"], [-0.75])


def test_backprop_rows_conform():
    (impl,) = [i for i in implementations() if i.spec_id == "train.backprop"]
    for dtype in ("float32", "float64"):
        row = check_row(
            reference.get(impl.spec_id), impl, "tensorflow", dtype, "cpu", profile="quick"
        )
        assert row.verdict == "conforms", row


@tf.custom_gradient
def _tanh_at_output(z):
    h = tf.tanh(z)

    def grad(upstream):
        return upstream * (1.0 - tf.square(tf.tanh(h)))  # derivative at h, not at z

    return h, grad


def test_planted_fault_derivative_at_the_wrong_point_diverges(assert_planted_fault_diverges):
    acts = {"tanh": _tanh_at_output, "sigmoid": "sigmoid", "relu": "relu", "identity": "linear"}

    def run(case, dtype, device):
        return run_backprop(case, dtype, device, acts)

    row = assert_planted_fault_diverges("tensorflow", "train.backprop", "tanh' at the output", run)
    assert "tanh" in row.counterexample["activations"]
