"""torch.optim.Adam/AdamW/NAdam(differentiable=True) compute the bias corrections of float64
parameters in float32.

With ``differentiable=True`` (and ``capturable=True``) the single-tensor step keeps
``state["step"]`` as a tensor and evaluates ``1 - beta2 ** step`` with it. That tensor is float32
(the default scalar dtype) whatever the parameters' dtype, so the bias corrections, and NAdam's
momentum-schedule product, are rounded to float32 and a float64 step is off by about 1e-7
relative. The plain path (``differentiable=False``) uses Python floats (float64) and agrees with
the float64 formula to the last bits.

Run: python torch_differentiable_float32_bias_correction.py  (needs torch and NumPy only)
"""

import numpy as np
import torch

g = 0.1257302210933933
lr, beta1, beta2, eps = 0.0010000000474974513, 0.0, 0.9900000095367432, 9.99999993922529e-09


def torch_step(differentiable: bool) -> float:
    value = torch.tensor([g], dtype=torch.float64)
    p = value.clone().requires_grad_(True).clone() if differentiable else torch.nn.Parameter(value)
    opt = torch.optim.Adam(
        [p], lr=lr, betas=(beta1, beta2), eps=eps, differentiable=differentiable, foreach=False
    )
    # one step taken already: m = v = g
    opt.state[p] = {
        "step": torch.tensor(1.0),
        "exp_avg": torch.tensor([g], dtype=torch.float64),
        "exp_avg_sq": torch.tensor([g], dtype=torch.float64),
    }
    p.grad = torch.tensor([g], dtype=torch.float64)
    opt.step()
    return p.detach().item()


def numpy_step() -> float:
    t = 2
    m = beta1 * g + (1 - beta1) * g
    v = beta2 * g + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return float(np.float64(g) - lr * m_hat / (np.sqrt(v_hat) + eps))


ref = numpy_step()
plain, diff = torch_step(False), torch_step(True)
print(f"float64 formula            {ref!r}")
print(f"differentiable=False       {plain!r}  off by {abs(plain - ref):.3g}")
print(f"differentiable=True        {diff!r}  off by {abs(diff - ref):.3g}")
print("float64 unit roundoff      1.1e-16; float32: 6e-8")
assert abs(plain - ref) < 1e-15 and abs(diff - ref) > 1e-12
