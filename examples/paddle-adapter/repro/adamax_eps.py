"""Paddle's Adamax adds epsilon to the decayed infinity norm, inside the maximum.

paddle.optimizer.Adamax documents and computes inf_norm = max(beta2 * inf_norm + eps, |g|); the
spec's forms are max(beta2 * u, |g|) with eps added to u outside (Keras) or to |g| inside the
maximum (PyTorch, optax). One step from the initial state (u = 0) with beta1 = beta2 = 0:
Paddle steps by exactly lr (u = max(eps, |g|) = |g|); both spec forms step by lr * g / (g + eps).

Run: python adamax_eps.py (needs paddlepaddle and numpy only).
"""

import numpy as np
import paddle

g, lr, eps = 0.1257302210933933, 0.0010000000474974513, 9.99999993922529e-09
p = paddle.create_parameter(
    [1], "float64", default_initializer=paddle.nn.initializer.Assign(np.array([g]))
)
opt = paddle.optimizer.Adamax(lr, beta1=0.0, beta2=0.0, epsilon=eps, parameters=[p])
p.grad = paddle.to_tensor(np.array([g]))
opt.step()
paddle_step = g - float(p.numpy()[0])
expected = lr * g / (g + eps)  # eps=outside and eps=in_max agree here
print(f"paddle step          {paddle_step!r}")
print(f"expected (spec)      {expected!r}")
print(f"paddle's own formula {lr * g / max(0.0 * 0.0 + eps, abs(g))!r}")
assert paddle_step != expected
