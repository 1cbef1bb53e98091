"""Does TorchInductor's FX graph cache return a compiled SGD step built for another momentum?

Standalone (torch and NumPy only). The ``torch-compile`` backend of the kit compiles one
``opt.step()`` per distinct graph constant (``momentum``, ``weight_decay``, ``eps``, ...), each
through a function with a code object of its own, and within one process once saw a compiled
``SGD(nesterov=True)`` (and ``RMSprop``) step built for one ``momentum`` return the parameters
of a step compiled for another value, with the FX graph cache and AOTAutograd's cache on (a
fresh cache directory); the kit turned both caches off. This script tries the same sequence
without the kit: for each cache setting (on / off), in a fresh cache directory, it builds
compiled ``SGD(momentum=mu, nesterov=True)`` and ``RMSprop(momentum=mu)`` steps for several
``mu`` (one flat parameter, the learning rate a float64 0-d tensor, the momentum buffer written
in place, as the kit does), takes three steps with each and compares them with the eager step
of an identical optimizer. It prints the largest relative difference of every step and
``MISMATCH`` where the compiled parameters differ from the eager ones by more than 1e-5
(float32) or 1e-12 (float64) relative to their largest magnitude.

Measured with torch 2.13.0+cpu (gcc, 2 cores): with both caches on, the compiled
``SGD(nesterov=True)`` steps for mu = 0.9, 0.25 and 0.99 (built after the one for mu = 0.5) differ
from the eager step by 4e-2 to 2e-1 relative, in float64 and float32 (12 MISMATCH lines); those
for mu = 0.0 and 0.5 agree exactly. With both caches off every step agrees (float64 within 3e-16,
float32 within 2e-7). ``RMSprop(momentum=mu)`` agrees in both settings: its part of the kit's
observation does not reproduce standalone.

Run: python docs/findings/torch_compile_inductor_cache_momentum.py
(CPU; needs a C++ compiler for Inductor. Takes about a minute per cache setting.)
"""

import os
import tempfile
import types

import numpy as np
import torch

MOMENTA = (0.0, 0.5, 0.9, 0.25, 0.5, 0.99)
FLAT = 4096
_codes = iter(range(1_000_000))


def own_code(opt: torch.optim.Optimizer):
    """``opt.step()`` as a function with its own code object (so Dynamo caches it separately)."""

    def step() -> None:
        opt.step()

    code = step.__code__.replace(co_name=f"compiled_step_{next(_codes)}")
    return types.FunctionType(code, step.__globals__, code.co_name, None, step.__closure__)


def make(cls, mu: float, dtype: torch.dtype):
    param = torch.nn.Parameter(torch.zeros(FLAT, dtype=dtype))
    param.grad = torch.zeros_like(param)
    lr = torch.tensor(0.1, dtype=torch.float64)
    if cls is torch.optim.SGD:
        opt = cls([param], lr=lr, momentum=mu, nesterov=mu > 0, dampening=0.0)
    else:
        opt = cls([param], lr=lr, momentum=mu, alpha=0.9, eps=1e-8)
    return param, opt


def run(param, opt, step, seed: int, dtype: torch.dtype) -> np.ndarray:
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        param.copy_(torch.tensor(rng.standard_normal(FLAT), dtype=dtype))
        if opt.param_groups[0]["momentum"] != 0 and isinstance(opt, torch.optim.SGD):
            buf = torch.tensor(rng.standard_normal(FLAT), dtype=dtype)
            if "momentum_buffer" in opt.state[param]:
                opt.state[param]["momentum_buffer"].copy_(buf)
            else:
                opt.state[param]["momentum_buffer"] = buf
    for _ in range(3):
        with torch.no_grad():
            param.grad.copy_(torch.tensor(rng.standard_normal(FLAT), dtype=dtype))
        step()
    return param.detach().double().numpy().copy()


def trial(cache: bool) -> int:
    torch._dynamo.reset()
    mismatches = 0
    with (
        torch._dynamo.config.patch(recompile_limit=100_000, accumulated_recompile_limit=100_000),
        torch._inductor.config.patch(fx_graph_cache=cache),
        torch._functorch.config.patch(enable_autograd_cache=cache),
    ):
        for dtype in (torch.float64, torch.float32):
            for cls in (torch.optim.SGD, torch.optim.RMSprop):
                for i, mu in enumerate(MOMENTA):
                    p_c, o_c = make(cls, mu, dtype)
                    compiled = torch.compile(own_code(o_c))
                    p_e, o_e = make(cls, mu, dtype)
                    for seed in (i, 100 + i):
                        got = run(p_c, o_c, compiled, seed, dtype)
                        want = run(p_e, o_e, o_e.step, seed, dtype)
                        rel = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
                        tol = 1e-12 if dtype == torch.float64 else 1e-5
                        bad = rel > tol
                        mismatches += bad
                        print(
                            f"cache={cache!s:5} {str(dtype)[6:]:7} {cls.__name__:7} mu={mu:<4} "
                            f"seed={seed:3}: max rel diff {rel:.2e}{'  MISMATCH' if bad else ''}"
                        )
    return mismatches


if __name__ == "__main__":
    print("torch", torch.__version__)
    total = {}
    for cache in (True, False):
        with tempfile.TemporaryDirectory() as d:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = d
            total[cache] = trial(cache)
    print("mismatches:", {f"cache={k}": v for k, v in total.items()})
