"""Paddle's ReLU returns 0 for a NaN input (the spec, IEEE-754, PyTorch, TensorFlow and JAX: NaN).

Run: python relu_nan.py (needs paddlepaddle and numpy only).
"""

import numpy as np
import paddle

x = paddle.to_tensor(np.array([np.nan], dtype=np.float32))
y = float(paddle.nn.functional.relu(x).numpy()[0])
print(f"paddle relu(nan) {y!r}")
print(f"expected         {float(np.maximum(np.float32(np.nan), 0))!r}")
assert not np.isnan(y)
