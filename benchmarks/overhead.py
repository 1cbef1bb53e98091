"""The kit's time per example, side by side with the bare framework call and the plain reference.

Usage::

    python benchmarks/overhead.py --backend torch [--spec opt.adam,act.tanh] [--dtype float32]
    python benchmarks/overhead.py --backend jax --spec norm.batch.train --examples 40
    python benchmarks/overhead.py --backend torch --spec opt --no-kit   # every optimizer, no check_row

``--spec`` takes spec IDs or prefixes, comma-separated. For every implementation of the matching
specs on the backend (``--impl`` keeps the names containing a string), on the same examples
(drawn by the spec's kind for its first check, unless ``--check`` names another), in CPU time
of this process (``time.process_time``: what other processes on a shared machine take is not
counted; threads of the framework are):

* ``draw``: Hypothesis' generation of one example (the kind's ``draw``);
* ``framework``: the adapter's ``run`` alone (build the framework's object, run, read back);
* ``plain``: the default variant of the reference on plain NumPy floats (no bound tracked), for
  the kinds whose reference can run untracked (else ``-``);
* ``tracked``: the kind's ``evaluate`` for the default variant minus ``framework``: the tracked
  reference and the comparison;
* ``all``: the same for every variant of the entry (``V``: how many): what an example costs
  while every variant is alive (a row's first examples);
* ``kit``: one example through the whole check: ``check_row`` at the ``ci`` profile (every check
  of the kind, variants that die no longer evaluated, the report's plot) over its examples.

and ``kit/(fw+plain)``: the kit's time per example over the framework call plus the plain
reference. This is a script, not a timed test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from unittest import mock

import numpy as np
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from trainspec import reference
from trainspec.conformance import discovery
from trainspec.conformance.kinds import get_kind
from trainspec.conformance.profiles import hypothesis_settings, without_local_constants
from trainspec.conformance.runner import check_row

clock = time.process_time


def collect_cases(entry: Any, dtype: str, check: str, n: int) -> list[Any]:
    """``n`` examples of ``entry``'s ``check``, drawn as a ``ci`` row draws them (seed 0)."""
    cases: list[Any] = []
    draw = get_kind(entry.kind).draw

    @seed(0)
    @settings(hypothesis_settings("ci"), max_examples=n)
    @given(st.data())
    def collect(data: Any) -> None:
        cases.append(draw(data, entry, dtype, check))

    with without_local_constants():
        collect()
    return cases


def per_example(fn: Callable[[Any], Any], cases: Sequence[Any]) -> float:
    t0 = clock()
    for c in cases:
        fn(c)
    return (clock() - t0) / len(cases)


def evaluate_time(
    kind: Any, entry: Any, impl: Any, cases: Sequence[Any], dtype: str, variants: Sequence[Any]
) -> float:
    """CPU time per example of the kind's ``evaluate`` (framework, reference, comparison)."""
    return per_example(lambda c: kind.evaluate(entry, impl, c, dtype, "cpu", variants), cases)


class _PlainFloat(float):
    """A hyperparameter as a plain float that still answers ``.u`` (the kinds read it)."""

    u = 0.0


def _plain_tree(tree: Any, dtype: str) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in tree.items()}


def _plain_scalar(x: float, dtype: str) -> float:
    return _PlainFloat(x)


@contextlib.contextmanager
def _untracked(module: Any, *names: str) -> Iterator[None]:
    """``module``'s tracking helpers replaced by plain ones (this script only)."""
    plain = {
        "track_tree": _plain_tree,
        "track_scalar": _plain_scalar,
    }
    with contextlib.ExitStack() as stack:
        for n in names:
            stack.enter_context(mock.patch.object(module, n, plain[n]))
        yield


def plain_reference(entry: Any, check: str, dtype: str) -> Callable[[Any], Any] | None:
    """The default variant of ``entry``'s reference on plain floats, for one case; ``None`` for a
    kind without an untracked path here."""
    variant = entry.default_variant
    kind = entry.kind
    if kind == "optimizers":
        from trainspec.conformance.kinds import optimizers as m

        def run(c: Any) -> Any:
            with _untracked(m, "track_tree", "track_scalar"):
                return m._run(entry.model, variant, c, dtype)

        return run
    if kind == "clipping":
        from trainspec.conformance.kinds import clipping as m

        def run(c: Any) -> Any:
            with _untracked(m, "track_tree", "track_scalar"):
                return m._reference(entry, variant, c, dtype)

        return run
    if kind == "activations":

        def run(c: Any) -> Any:
            act = entry.model.build(variant.options, dict(c.hyperparameters))
            with np.errstate(all="ignore"):
                if check == "values":
                    return act.value(c.z)
                return act.vjp(c.z, c.cotangent)

        return run
    if kind == "schedules":
        from trainspec.conformance.kinds import schedules as m

        def run(c: Any) -> Any:
            with _untracked(m, "track_scalar"):
                return m.reference_values(entry, variant, c, dtype)

        return run
    return None


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e3:.2f}"


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--backend", required=True)
    p.add_argument("--spec", default="opt.momentum", help="spec IDs or prefixes, comma-separated")
    p.add_argument("--impl", default=None, help="only implementations whose name contains this")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--examples", type=int, default=40)
    p.add_argument(
        "--check", default=None, help="the kind's check to draw from (default: its first)"
    )
    p.add_argument("--no-kit", action="store_true", help="skip check_row (the kit column)")
    args = p.parse_args()

    adapters, failures = discovery.load_adapters([args.backend])
    if failures:
        raise SystemExit(f"{args.backend}: {failures[args.backend]}")
    adapter = adapters[args.backend]
    print(
        f"{'implementation':<40} {'draw':>7} {'framework':>9} {'plain':>7} {'tracked':>8} "
        f"{'all':>8} {'V':>3} {'kit':>8} {'kit/(fw+plain)':>14}   (ms per example, CPU time)"
    )
    seen: set[str] = set()
    entries = [
        e for pattern in args.spec.split(",") for e in reference.entries_matching(pattern.strip())
    ]
    for entry in entries:
        if entry.id in seen:
            continue
        seen.add(entry.id)
        impls = [i for i in adapter.implementations() if i.spec_id == entry.id]
        impls = [i for i in impls if args.impl is None or args.impl in i.name]
        kind = get_kind(entry.kind)
        if not impls or kind.draw is None or kind.evaluate is None:
            continue
        check = args.check or kind.checks[0]
        variants = list(entry.variants())
        default = [entry.default_variant]
        collect_cases(entry, args.dtype, check, 2)  # warm-up: imports, strategies' caches
        t0 = clock()
        cases = collect_cases(entry, args.dtype, check, args.examples)
        draw = (clock() - t0) / len(cases)
        plain_fn = plain_reference(entry, check, args.dtype)
        plain: float | None = None
        if plain_fn is not None:
            try:
                plain_fn(cases[0])
                plain = per_example(plain_fn, cases)
            except Exception as exc:  # a kind whose reference needs its tracked inputs
                print(f"  (plain reference of {entry.id}: {type(exc).__name__}: {exc})")
        print(f"{entry.id} ({entry.kind}, check {check}, {len(cases)} examples)")
        for impl in impls:
            if args.dtype not in impl.dtypes:
                continue
            run = lambda c, impl=impl: impl.run(c, args.dtype, "cpu")  # noqa: E731
            try:
                run(cases[0])  # warm-up (first-call costs, compilation, are not per example)
                fw = per_example(run, cases)
                ev1 = evaluate_time(kind, entry, impl, cases, args.dtype, default)
                ev = evaluate_time(kind, entry, impl, cases, args.dtype, variants)
            except Exception as exc:  # an implementation that cannot run here (capturable)
                print(f"  {impl.name[:38]:<38} skipped: {type(exc).__name__}: {str(exc)[:60]}")
                continue
            kit: float | None = None
            if not args.no_kit:
                t0 = clock()
                row = check_row(entry, impl, args.backend, args.dtype, "cpu", profile="ci")
                kit = (clock() - t0) / max(1, row.examples)
            base = fw + (plain or 0.0)
            factor = "-" if kit is None or plain is None else f"{kit / base:.1f}x"
            print(
                f"  {impl.name[:38]:<38} {_ms(draw):>7} {_ms(fw):>9} {_ms(plain):>7} "
                f"{_ms(ev1 - fw):>8} {_ms(ev - fw):>8} {len(variants):>3} {_ms(kit):>8} "
                f"{factor:>14}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
