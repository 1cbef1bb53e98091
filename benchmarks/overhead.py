"""The kit's overhead per example, side by side with the bare framework call and the reference.

Usage::

    python benchmarks/overhead.py --backend torch [--spec opt.momentum] [--dtype float32] [--examples 40]

For every implementation of the spec on the backend, on the same examples:

* ``framework``: the adapter's ``run`` alone (build the framework's optimizer, steps, read back);
* ``reference``: the reference for every variant on tracked arrays (what the kit compares with);
* ``kit``: one example through the whole check (generation, framework, every variant, compare),
  measured as ``check_row`` time / examples;

and ``overhead = (kit - framework) / framework``: the time the kit adds per example, relative to
the framework call. This is a script, not a timed test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance import discovery
from trainspec.conformance.checks import reference_optimizer_run
from trainspec.conformance.profiles import hypothesis_settings
from trainspec.conformance.runner import check_row
from trainspec.conformance.strategies import draw_optimizer_case


def collect_cases(entry: Any, dtype: str, check: str, n: int) -> list[Any]:
    cases: list[Any] = []

    @seed(0)
    @settings(hypothesis_settings("ci"), max_examples=n)
    @given(st.data())
    def collect(data: Any) -> None:
        cases.append(draw_optimizer_case(data, entry, dtype, check))

    collect()
    return cases


def per_example(fn: Any, cases: list[Any]) -> float:
    t0 = time.perf_counter()
    for c in cases:
        fn(c)
    return (time.perf_counter() - t0) / len(cases)


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--backend", required=True)
    p.add_argument("--spec", default="opt.momentum")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--examples", type=int, default=40)
    args = p.parse_args()

    adapters, failures = discovery.load_adapters([args.backend])
    if failures:
        raise SystemExit(f"{args.backend}: {failures[args.backend]}")
    adapter = adapters[args.backend]
    entry = reference.get(args.spec)
    variants = list(entry.variants())
    cases = collect_cases(entry, args.dtype, "trajectory", args.examples)
    steps = statistics.mean(c.steps for c in cases)
    print(
        f"{args.backend} {args.spec} {args.dtype}: {len(cases)} trajectory examples "
        f"(mean {steps:.1f} steps), {len(variants)} variants"
    )
    print(f"{'implementation':<52} {'framework':>10} {'reference':>10} {'kit':>10} {'overhead':>9}")
    for impl in adapter.implementations():
        if impl.spec_id != args.spec:
            continue
        impl.run(cases[0], args.dtype, "cpu")  # warm-up (first-call costs are not per example)
        fw = per_example(lambda c, impl=impl: impl.run(c, args.dtype, "cpu"), cases)
        ref = per_example(
            lambda c: [reference_optimizer_run(entry.model, v, c, args.dtype) for v in variants],
            cases,
        )
        t0 = time.perf_counter()
        row = check_row(entry, impl, args.backend, args.dtype, "cpu", profile="ci")
        kit = (time.perf_counter() - t0) / max(1, row.examples)
        print(
            f"{impl.name:<52} {fw * 1e3:>8.2f}ms {ref * 1e3:>8.2f}ms {kit * 1e3:>8.2f}ms "
            f"{(kit - fw) / fw:>8.2f}x"
        )
    print(
        "framework: the bare framework call; reference: every variant on tracked arrays; kit: one "
        "example through the whole check (one-step and trajectory examples; variants that die are "
        "no longer evaluated); overhead = (kit - framework) / framework."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
