"""What the optimizer cards' tests share: a parameter tree, two gradients, and a loop that applies
a transformation's updates step by step."""

import numpy as np

from trainspec.reference.base import apply_updates

P = {"w": np.array([1.0, -2.0, 0.5])}
G1 = {"w": np.array([0.5, 1.0, -3.0])}
G2 = {"w": np.array([-1.0, 2.0, 0.25])}


def run(transform, params, grads, state=None):
    """``(params, state)`` after applying ``transform``'s update for each gradient in turn."""
    state = transform.init(params) if state is None else state
    for g in grads:
        u, state = transform.update(g, state, params)
        params = apply_updates(params, u)
    return params, state


def w(tree):
    return tree["w"]
