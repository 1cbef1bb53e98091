"""Paddle's inverted dropout scales float64 inputs by 1 / (1 - p) with 1 - p rounded to float32.

paddle.nn.functional.dropout(x, p, mode='upscale_in_train') on a float64 tensor returns the kept
values as x / fl32(1 - p): the dropout kernel takes p as a float32 attribute and forms 1 - p in
float32. The spec (and PyTorch, Keras, JAX) divides by 1 - p in the input's precision; with
p = 0.2 (as float32: 0.20000000298023224) the kept value is off by 2e-8 relative, 4e7 times the
float64 tolerance. The naive form (mode='downscale_in_infer') multiplies by fl32(1 - p) at test
time in the same way.

Run: python dropout_scale_float32.py (needs paddlepaddle and numpy only).
"""

import numpy as np
import paddle

p, v = 0.20000000298023224, 0.1257302210933933
x = paddle.to_tensor(np.full(64, v))  # float64
paddle.seed(0)
y = paddle.nn.functional.dropout(x, p, training=True).numpy()
kept = float(y[y != 0][0])
print(f"paddle kept value          {kept!r}")
print(f"expected x / (1 - p)       {v / (1 - p)!r}")
print(f"x / float32(1 - p)         {v / float(np.float32(1 - p))!r}")
assert kept != v / (1 - p)

# the naive form (mode='downscale_in_infer') multiplies by fl32(1 - p) at test time
test = paddle.nn.functional.dropout(
    paddle.to_tensor(np.full((1, 4), v)), p, training=False, mode="downscale_in_infer"
).numpy()[0, 0]
print(f"paddle naive test output   {float(test)!r}")
print(f"expected x * (1 - p)       {v * (1 - p)!r}")
print(f"x * float32(1 - p)         {v * float(np.float32(1 - p))!r}")
