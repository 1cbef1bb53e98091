"""Paddle's SELU uses float32 constants in float64.

paddle.nn.functional.selu in float64 multiplies by scale = 1.0507009873554805 rounded to float32
(1.0507010221481323): for z = 0.00493050807491952 it returns 0.00518048987402756, the spec
lambda * z = 0.005180489702482109 (3e-8 relative, far above float64 rounding).

Run: python selu_float32_constants.py (needs paddlepaddle and numpy only).
"""

import numpy as np
import paddle

z = 0.00493050807491952
scale = 1.0507009873554804934193349852946
y = float(paddle.nn.functional.selu(paddle.to_tensor(np.array([z]))).numpy()[0])
print(f"paddle selu(z)            {y!r}")
print(f"expected scale * z        {scale * z!r}")
print(f"float32(scale) * z        {float(np.float32(scale)) * z!r}")
