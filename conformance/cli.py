"""The ``trainspec`` command (also ``python -m trainspec``).

``trainspec run``    run the conformance matrix and write ``report.json`` and ``report.md``
``trainspec spec``   print the spec registry (``--json`` for the machine-readable list)
``trainspec merge``  merge several ``report.json`` files (one per tox environment) into one report
``trainspec errata`` run every erratum's executable check and print what it shows
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainspec import reference
from trainspec.conformance import discovery
from trainspec.conformance.adapter import DEVICES, DTYPES
from trainspec.conformance.profiles import PROFILES
from trainspec.conformance.report import build_report, matrix_text, merge_reports, write_report
from trainspec.conformance.runner import Row, run_matrix

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trainspec", description="Executable spec of training formulas and a conformance kit."
    )
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run the conformance matrix and write the report")
    r.add_argument(
        "--backend",
        action="append",
        help="backend to check (repeatable; default: every installed one)",
    )
    r.add_argument("--device", choices=DEVICES, default="cpu", help="device (default: cpu)")
    r.add_argument(
        "--profile", choices=list(PROFILES), default="ci", help="hypothesis profile (default: ci)"
    )
    r.add_argument(
        "--seed", type=int, default=None, help="seed (default: 0; thorough: a fresh one, printed)"
    )
    r.add_argument(
        "--spec", default=None, help="a spec ID or a prefix such as 'opt' (default: all)"
    )
    r.add_argument("--impl", default=None, help="only this implementation (as named in the report)")
    r.add_argument(
        "--dtype",
        action="append",
        choices=DTYPES,
        help="dtype (repeatable; default: all four; an implementation runs those it offers)",
    )
    r.add_argument(
        "--report",
        default="report",
        help="folder for report.json and report.md (default: ./report)",
    )
    r.add_argument("--quiet", action="store_true", help="do not print a line per row")
    r.add_argument("--strict", action="store_true", help="exit 1 if any row diverges or errs")

    s = sub.add_parser("spec", help="print the spec registry")
    s.add_argument("--json", action="store_true", help="print the registry as a JSON list")
    s.add_argument("--id", default=None, help="only this spec ID or prefix")

    m = sub.add_parser("merge", help="merge report.json files into one report")
    m.add_argument(
        "inputs", nargs="+", help="report.json files, or folders searched for */report.json"
    )
    m.add_argument(
        "--report", required=True, help="folder for the merged report.json and report.md"
    )

    sub.add_parser("errata", help="run every erratum's check")
    return p


def _cmd_spec(args: argparse.Namespace) -> int:
    entries = reference.entries_matching(args.id)
    if args.json:
        print(json.dumps([e.to_json() for e in entries], indent=1))
        return 0
    for e in entries:
        print(f"{e.id}  [{e.tier}]  {e.title}")
        print(f"    {e.formula}")
        for axis in e.variant_axes:
            print(
                f"    variants of {axis.name}: "
                + ", ".join(o.name for o in axis.options)
                + f" (default {axis.default})"
            )
        for er in e.errata:
            print(f"    erratum ({er.source.author}): prints {er.printed}; correct {er.correct}")
    return 0


def _cmd_errata(args: argparse.Namespace) -> int:
    ok = True
    for e in reference.all_entries():
        for er in e.errata:
            ev = er.check()
            ok &= ev.shows_difference
            status = "shown" if ev.shows_difference else "NOT SHOWN"
            print(
                f"{e.id} ({er.source.author}): {status}: printed formula off by {ev.printed_error:.3g}, "
                f"corrected off by {ev.corrected_error:.3g}; {ev.detail}"
            )
    return 0 if ok else 1


def _cmd_run(args: argparse.Namespace) -> int:
    seed = args.seed
    if seed is None:
        seed = random.SystemRandom().randrange(2**31) if args.profile == "thorough" else 0
    entries = reference.entries_matching(args.spec)
    try:
        adapters, failures = discovery.load_adapters(args.backend)
    except ValueError as exc:
        print(f"trainspec run: {exc}", file=sys.stderr)
        return 2
    if not adapters and not failures:
        print("trainspec run: no backend is registered", file=sys.stderr)
        return 2
    dtypes = args.dtype or list(DTYPES)
    print(
        f"trainspec run: profile {args.profile}, seed {seed}, device {args.device}, dtypes {', '.join(dtypes)}"
    )
    backends: dict[str, dict[str, Any]] = {}
    for name, why in failures.items():
        print(f"  {name}: {why}")
        backends[name] = {"status": why, "versions": {}}
    rows: list[Row] = []

    def progress(row: Row) -> None:
        if not args.quiet:
            what = row.variant if row.verdict in ("variant", "diverges") else ""
            print(
                f"  {row.backend:<10} {row.spec_id:<18} {row.implementation:<42} {row.device:<4} {row.dtype:<8} "
                f"{row.verdict:<11} {what}  ({row.examples} ex, {row.seconds:.1f}s)",
                flush=True,
            )
            if row.verdict in ("diverges", "error"):
                print(
                    f"      {row.message.splitlines()[0] if row.message else ''}\n      replay: {row.repro}",
                    flush=True,
                )

    for name, adapter in adapters.items():
        t0 = time.perf_counter()
        try:
            versions = adapter.versions()
            status = "ok"
        except Exception as exc:
            versions, status = {}, f"versions() failed: {exc}"
        rows += run_matrix(
            entries,
            {name: adapter},
            devices=[args.device],
            dtypes=dtypes,
            profile=args.profile,
            seed_=seed,
            impl_filter=args.impl,
            progress=progress,
        )
        backends[name] = {
            "status": status,
            "versions": versions,
            "seconds": round(time.perf_counter() - t0, 2),
        }
    report = build_report(rows, backends, profile=args.profile, seed=seed, devices=[args.device])
    j, m = write_report(report, args.report)
    print()
    print(matrix_text(report))
    print(f"\nwrote {j} and {m}{_html_note(m)}")
    if not adapters:
        print(
            "trainspec run: no backend could be loaded; install one (pip install 'trainspec[torch]')",
            file=sys.stderr,
        )
        return 1
    bad = [r for r in rows if r.verdict in ("diverges", "error")]
    if bad:
        print(f"{len(bad)} row(s) diverge or fail; replay each with the command printed above.")
    return 1 if bad and args.strict else 0


def _cmd_merge(args: argparse.Namespace) -> int:
    reports = []
    paths: list[Path] = []
    for given in map(Path, args.inputs):
        paths += (
            sorted(given.glob("*/report.json"))
            + ([given / "report.json"] if (given / "report.json").exists() else [])
            if given.is_dir()
            else [given]
        )
    if not paths:
        print(f"trainspec merge: no report.json under {', '.join(args.inputs)}", file=sys.stderr)
        return 2
    for path in paths:
        try:
            reports.append(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"trainspec merge: {path}: cannot read a report: {exc}", file=sys.stderr)
            return 2
    try:
        merged = merge_reports(reports)
    except ValueError as exc:
        print(f"trainspec merge: {exc}", file=sys.stderr)
        return 2
    j, m = write_report(merged, args.report)
    print(matrix_text(merged))
    print(f"\nwrote {j} and {m}{_html_note(m)}")
    return 0


def _html_note(md: Path) -> str:
    html = md.with_name("report.html")
    if html.exists() and html.stat().st_mtime >= md.stat().st_mtime - 1:
        return f" and {html}"
    return " (report.html needs the report extra: pip install 'trainspec[report]')"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return {"run": _cmd_run, "spec": _cmd_spec, "merge": _cmd_merge, "errata": _cmd_errata}[
        args.command
    ](args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
