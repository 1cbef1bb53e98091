"""Paddle's CPU softmax clips the shifted logits at -64 before the exponential.

paddle.nn.functional.softmax([1.9212679862976074, -105.4332046508789]) in float32 returns
1.6e-28 (= exp(-64) / (1 + exp(-64)), the shifted logit -107.35 clipped to -64) for the second
probability, where exp(-107.35) = 2.4e-47 (0 in float32 after the flush). The same in float64,
where the exact value 2.4e-47 is a normal number.

Run: python softmax_clip.py (needs paddlepaddle and numpy only).
"""

import numpy as np
import paddle

for dtype in ("float32", "float64"):
    z = np.array([1.9212679862976074, -105.4332046508789])
    y = paddle.nn.functional.softmax(paddle.to_tensor(z, dtype=dtype), axis=-1).numpy()
    e = np.exp(z - z.max())
    print(f"{dtype}: paddle {y[1]!r}  expected {e[1] / e.sum()!r}  exp(-64) {np.exp(-64.0)!r}")
