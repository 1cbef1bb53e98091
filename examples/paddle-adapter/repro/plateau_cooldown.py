"""Paddle's ReduceOnPlateau ignores the metrics seen during cooldown entirely.

paddle.optimizer.lr.ReduceOnPlateau.step decrements cooldown_counter and returns without
comparing the metric with the best one, so an improvement seen during cooldown never becomes the
best. The spec (PyTorch, Keras, optax) resets only the count of bad checks during cooldown and
still records a better metric as the best.

Case: mode='min', threshold_mode='rel', threshold=0.0625, factor=0.1, patience=0, cooldown=1,
metrics 0.5, 0.5, 0.5, 0.5, 0.4375, 0.4375. The fifth metric (0.4375 < 0.5 * (1 - 0.0625)) comes
during cooldown: the spec makes it the best, so the sixth (equal) is a bad check and reduces the
learning rate to 1e-4; Paddle still compares with 0.5, sees an improvement and keeps 1e-3.

Run: python plateau_cooldown.py (needs paddlepaddle only).
"""

from paddle.optimizer.lr import ReduceOnPlateau

metrics = [0.5, 0.5, 0.5, 0.5, 0.4375, 0.4375]
sched = ReduceOnPlateau(
    0.1,
    mode="min",
    factor=0.1,
    patience=0,
    threshold=0.0625,
    threshold_mode="rel",
    cooldown=1,
    min_lr=0.0,
    epsilon=0.0,
)
paddle_lrs = []
for m in metrics:
    sched.step(m)
    paddle_lrs.append(sched())

# the spec's rule (cooldown_count=full, patience_count=exceeds), written out
lr, best, bad, left, expected = 0.1, None, 0, 0, []
for m in metrics:
    if best is None or m < best * (1 - 0.0625):
        best, bad = m, 0
    else:
        bad += 1
    if left > 0:
        left, bad = left - 1, 0
    if bad > 0:
        lr, bad, left = lr * 0.1, 0, 1
    expected.append(lr)
print("paddle  ", paddle_lrs)
print("expected", expected)
assert abs(paddle_lrs[-1] - expected[-1]) > 1e-6
