"""Keras 3 on its torch backend: Nadam cannot update bfloat16 variables (TypeError).

``torch_nadam.Nadam._parallel_update_step`` (keras/src/backend/torch/optimizers/torch_nadam.py)
divides by ``1 - core.convert_to_numpy(u_product_t)``, a NumPy scalar. For bfloat16 variables it
is an ``ml_dtypes.bfloat16`` scalar, which ``torch._foreach_div`` does not accept: the first step
raises TypeError. float32 and float64 work; the TensorFlow and JAX backends update bfloat16
variables with the same optimizer. The keras-torch adapter therefore declares no bfloat16 row for
Nadam.

Run: python keras_torch_nadam_bfloat16_typeerror.py  (needs keras, torch and NumPy)
"""

import os

os.environ["KERAS_BACKEND"] = "torch"

import keras
import numpy as np

assert keras.backend.backend() == "torch"

for dtype in ("float32", "bfloat16"):
    w = keras.Variable(np.array([1.0, -2.0]), dtype=dtype)
    opt = keras.optimizers.Nadam(learning_rate=0.001)
    try:
        opt.apply([keras.ops.convert_to_tensor(np.array([0.5, 0.25]), dtype=dtype)], [w])
        print(f"{dtype}: one step, parameters {keras.ops.convert_to_numpy(w)}")
        assert dtype == "float32"
    except TypeError as exc:
        print(f"{dtype}: TypeError: {str(exc).splitlines()[0]}")
        assert dtype == "bfloat16"
