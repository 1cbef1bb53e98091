"""Paddle's naive dropout (mode='downscale_in_infer') refuses a 1-D input at test time.

paddle.nn.functional.dropout(x, p, training=False, mode='downscale_in_infer') raises
"ValueError: (InvalidArgument) Input dimension number(num_col_dims) must be between 0 and 1" for a
1-D tensor (the test-time product x * (1 - p) goes through an Eigen matrix view that needs rank
>= 2); the same values as a (1, n) batch give x * (1 - p). Training mode accepts 1-D inputs.
The adapter therefore runs 1-D inputs of drop.naive as a batch of one.

Run: python dropout_downscale_1d.py (needs paddlepaddle and numpy only).
"""

import numpy as np
import paddle

x = np.array([1.0, 2.0, 3.0])
F = paddle.nn.functional
print(
    "(1, n):",
    F.dropout(paddle.to_tensor(x[None]), 0.5, training=False, mode="downscale_in_infer").numpy(),
)
try:
    F.dropout(paddle.to_tensor(x), 0.5, training=False, mode="downscale_in_infer")
    print("1-D: no error")
except ValueError as exc:
    print("1-D: ValueError:", str(exc).splitlines()[0])
