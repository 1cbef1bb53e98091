"""Statistical power, stated and delivered: the faults the issue names are caught at ``thorough``.

A ReLU gain of sqrt(2.02) instead of sqrt(2) (a standard deviation 0.5 % too large) and a dropout
keep probability 1 % low are planted into honest NumPy implementations; at ``thorough`` every
example states that it detects them (``detectable`` at or below the fault, with probability 0.9)
and the examples do reject them. At ``ci`` the stated figures are larger (the ``ci`` profile
catches a keep probability off by about 20 % and a standard deviation off by about 1 %).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance.adapter import Implementation
from trainspec.conformance.kinds import dropout as D
from trainspec.conformance.kinds import init as K
from trainspec.conformance.profiles import profiled
from trainspec.conformance.runner import check_row


def dropout_keeping(factor: float):
    """Inverted dropout in float32 whose mask keeps with probability ``factor * q`` (scaled 1/q)."""

    def run(case, dtype, device):
        x = case.x.astype(np.float32)
        q = 1.0 - case.rate
        rng = np.random.default_rng(case.seed)
        train = [
            np.where(rng.random(x.shape) < factor * q, x * np.float32(1.0 / q), np.float32(0))
            for _ in range(case.passes)
        ]
        train = np.stack(train) if train else np.zeros((0, *x.shape), np.float32)
        return {"train": train.astype(np.float64), "test": x.astype(np.float64)}

    return Implementation("drop.inverted", f"keep x{factor}", run, devices=("cpu",))


def he_normal_with_gain_squared(gain2: float):
    """He normal (fan_in, channels_last) with variance ``gain2 / fan_in``, in float32."""

    def run(case, dtype, device):
        layer = case.layer
        shape = (case.draws, *layer.kernel_shape("channels_last"))
        fan_in = layer.in_features * layer.receptive_field
        z = np.random.default_rng(case.seed).standard_normal(shape)
        return (math.sqrt(gain2 / fan_in) * z).astype(np.float32).astype(np.float64)

    return Implementation(
        "init.he_normal", "he", run, ("float32",), ("cpu",), "", {"layout": "channels_last"}
    )


@profiled
def _examples(entry, impl, check, n, *, profile):
    """The default variant's comparisons on ``n`` derandomized examples drawn under ``profile``."""
    kind = {"dropout": (D.draw_dropout_case, D.evaluate_dropout)}.get(
        entry.kind, (K.draw_init_case, K.evaluate_init)
    )
    out = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None)
    @given(st.data())
    def probe(data):
        case = kind[0](data, entry, "float32", check)
        res = kind[1](entry, impl, case, "float32", "cpu", [entry.default_variant])
        out.append(res[entry.default_variant])

    probe()
    return out[:n]


def _random(found):
    """The examples with a random mask (a drawn rate of 0 keeps everything: nothing to test)."""
    out = [c for c in found if "kept_fraction" in c.detectable]
    assert len(out) >= 4, found
    return out


def test_thorough_catches_a_keep_probability_one_percent_low():
    entry = reference.get("drop.inverted")
    found = _random(_examples(entry, dropout_keeping(0.99), "passes", 6, profile="thorough"))
    assert all(c.detectable["kept_fraction"].deviation <= 0.01 for c in found), found
    assert sum(not c.passes for c in found) >= len(found) - 1, found
    honest = _examples(entry, dropout_keeping(1.0), "passes", 6, profile="thorough")
    assert all(c.passes for c in honest), honest


def test_ci_states_that_it_sees_only_large_keep_probability_errors():
    entry = reference.get("drop.inverted")
    found = _random(_examples(entry, dropout_keeping(0.99), "passes", 6, profile="ci"))
    assert all(c.detectable["kept_fraction"].deviation > 0.05 for c in found), found


def test_thorough_catches_a_relu_gain_of_root_2_02():
    entry = reference.get("init.he_normal")
    found = _examples(entry, he_normal_with_gain_squared(2.02), "dense", 4, profile="thorough")
    assert all(c.detectable["variance"].deviation <= 0.005 for c in found), found
    assert all(c.detectable["variance"].samples >= K.THOROUGH_SAMPLES for c in found)
    assert sum(not c.passes for c in found) >= 3, found
    honest = _examples(entry, he_normal_with_gain_squared(2.0), "dense", 4, profile="thorough")
    assert all(c.passes for c in honest), honest


def test_ci_states_its_standard_deviation_power():
    entry = reference.get("init.he_normal")
    found = _examples(entry, he_normal_with_gain_squared(2.0), "dense", 2, profile="ci")
    assert all(0.008 < c.detectable["variance"].deviation < 0.013 for c in found), found


def test_rows_carry_the_stated_power_into_the_report():
    row = check_row(
        reference.get("drop.inverted"), dropout_keeping(1.0), "numpy", "float32", "cpu",
        profile="quick",
    )  # fmt: skip
    assert row.verdict in ("conforms", "variant"), row  # (select masking is a variant)
    kept = row.to_json()["detectable"]["kept_fraction"]
    assert kept["quantity"] == "keep probability" and kept["power"] == 0.9
    assert kept["text"].startswith("keep probability within ±") and 0 < kept["deviation"] < 1
    assert set(row.detectable) >= {"kept_fraction", "independent_passes", "mean"}
