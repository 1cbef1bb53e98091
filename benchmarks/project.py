"""The matrix's time at another number of examples per check, projected from two measured runs.

Usage::

    trainspec run --backend torch --profile quick --report /tmp/q --force     # 10 examples
    trainspec run --backend torch --profile ci --report /tmp/c --force        # 40 examples
    python benchmarks/project.py /tmp/q/report.json /tmp/c/report.json --examples 100

A row's time is close to ``a + b * examples``: ``a`` what the row pays once (the framework's
first call, JAX's compilation, the report's plot, a shrink), ``b`` per example (generation, the
framework, the tracked reference). With the same rows measured at two depths (``low`` and
``high``, e.g. the ``quick`` and ``ci`` profiles), every row gives ``b = (t_high - t_low) /
(n_high - n_low)`` and ``a = t_high - b * n_high`` (``b`` at least 0, ``a`` at least 0), and the
projection at ``--examples`` per check scales each row's examples by ``examples / 40`` (the
``ci`` profile's count; a statistical kind draws a fixed fraction of it). It prints, per backend
and in all, the measured and projected sums of the rows' seconds (the rows run one after another
with ``--jobs 1``; a backend's start, its interpreter and imports, comes on top).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

#: the ``ci`` profile's examples per check (conformance/profiles.py)
CI_EXAMPLES = 40


def _rows(path: str) -> dict[tuple[str, ...], dict[str, Any]]:
    report = json.loads(Path(path).read_text())
    return {
        (r["backend"], r["spec_id"], r["implementation"], r["device"], r["dtype"]): r
        for r in report["results"]
        if r.get("seconds") is not None
    }


def project(
    low: dict[tuple[str, ...], dict[str, Any]],
    high: dict[tuple[str, ...], dict[str, Any]],
    examples: int,
) -> dict[str, tuple[float, float]]:
    r"""Per backend: (the high run's seconds, the projected seconds at ``examples`` per check)."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for key, h in high.items():
        t_h, n_h = float(h["seconds"]), int(h.get("examples") or 0)
        lo = low.get(key)
        scale = examples / CI_EXAMPLES
        if lo is None or n_h == 0 or int(lo.get("examples") or 0) >= n_h:
            projected = t_h * max(1.0, scale)  # no slope measured: proportional to examples
        else:
            t_l, n_l = float(lo["seconds"]), int(lo["examples"])
            b = max(0.0, (t_h - t_l) / (n_h - n_l))
            a = max(0.0, t_h - b * n_h)
            projected = a + b * n_h * scale
        out[key[0]][0] += t_h
        out[key[0]][1] += projected
    return {k: (v[0], v[1]) for k, v in out.items()}


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("low", help="report.json of the shallower run (e.g. --profile quick)")
    p.add_argument("high", help="report.json of the deeper run (e.g. --profile ci)")
    p.add_argument("--examples", type=int, default=100, help="examples per check to project to")
    args = p.parse_args()
    if args.examples < 1:
        raise SystemExit(f"--examples {args.examples}: must be at least 1")
    totals = project(_rows(args.low), _rows(args.high), args.examples)
    print(f"{'backend':<16} {'measured (s)':>13} {f'at {args.examples} (s)':>13}")
    for backend, (measured, projected) in sorted(totals.items()):
        print(f"{backend:<16} {measured:>13.1f} {projected:>13.1f}")
    m = sum(v[0] for v in totals.values())
    pr = sum(v[1] for v in totals.values())
    print(f"{'all':<16} {m:>13.1f} {pr:>13.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
