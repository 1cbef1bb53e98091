"""The kit's overhead per example, side by side with the bare framework call and the reference.

Usage::

    python benchmarks/overhead.py --backend torch [--spec opt.momentum] [--dtype float32] [--examples 40]
    python benchmarks/overhead.py --backend jax --spec norm.batch.train   # any spec ID or prefix

For every implementation of the matching specs on the backend, on the same examples (drawn by the
spec's kind, from its first check unless ``--check`` names another):

* ``framework``: the adapter's ``run`` alone (build the framework's object, run, read back);
* ``reference``: the kind's ``evaluate`` (framework, then every variant of the reference and the
  comparison) minus ``framework``: what the kit adds to one framework call;
* ``kit``: one example through the whole check (generation, framework, every variant, compare),
  measured as ``check_row`` time / examples;

and ``overhead = (kit - framework) / framework``: the time the kit adds per example, relative to
the framework call. This is a script, not a timed test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance import discovery
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.profiles import hypothesis_settings
from trainspec.conformance.runner import check_row


def collect_cases(entry: Any, dtype: str, check: str, n: int) -> list[Any]:
    cases: list[Any] = []
    draw = get_kind(entry.kind).draw

    @seed(0)
    @settings(hypothesis_settings("ci"), max_examples=n)
    @given(st.data())
    def collect(data: Any) -> None:
        cases.append(draw(data, entry, dtype, check))

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
    p.add_argument(
        "--check", default=None, help="the kind's check to draw from (default: its first)"
    )
    args = p.parse_args()

    adapters, failures = discovery.load_adapters([args.backend])
    if failures:
        raise SystemExit(f"{args.backend}: {failures[args.backend]}")
    adapter = adapters[args.backend]
    print(f"{'implementation':<60} {'framework':>10} {'reference':>10} {'kit':>10} {'overhead':>9}")
    for entry in reference.entries_matching(args.spec):
        impls = [i for i in adapter.implementations() if i.spec_id == entry.id]
        if not impls or entry.kind == "defaults":
            continue
        kind = get_kind(entry.kind)
        check = args.check or kind.checks[0]
        variants = list(entry.variants())
        cases = collect_cases(entry, args.dtype, check, args.examples)
        print(
            f"{entry.id} ({entry.kind}, check {check}): {len(cases)} examples, {len(variants)} variants"
        )
        for impl in impls:
            if args.dtype not in impl.dtypes:
                continue
            run = lambda c, impl=impl: impl.run(c, args.dtype, "cpu")  # noqa: E731
            run(cases[0])  # warm-up (first-call costs, compilation, are not per example)
            fw = per_example(run, cases)
            ev = per_example(
                lambda c, i=impl, k=kind, e=entry, v=variants: k.evaluate(
                    e, i, c, args.dtype, "cpu", v
                ),
                cases,
            )
            t0 = time.perf_counter()
            row = check_row(entry, impl, args.backend, args.dtype, "cpu", profile="ci")
            kit = (time.perf_counter() - t0) / max(1, row.examples)
            print(
                f"  {impl.name[:58]:<58} {fw * 1e3:>8.2f}ms {(ev - fw) * 1e3:>8.2f}ms "
                f"{kit * 1e3:>8.2f}ms {(kit - fw) / fw:>8.2f}x"
            )
    print(
        "framework: the bare framework call; reference: every variant of the reference and the "
        "comparison; kit: one example through the whole check (every check of the kind; variants "
        "that die are no longer evaluated); overhead = (kit - framework) / framework."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
