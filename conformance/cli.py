"""The ``trainspec`` command (also ``python -m trainspec``).

``trainspec run``    run the conformance matrix and write ``report.json`` and ``report.md``
``trainspec spec``   print the spec registry (``--json`` for the machine-readable list)
``trainspec merge``  merge several ``report.json`` files (one per tox environment) into one report
``trainspec errata`` run every erratum's executable check and print what it shows
``trainspec check-adapter NAME``  check an adapter's contract (no statistics)
``trainspec new-adapter NAME``    write an adapter package skeleton
``trainspec lock``   pin every row of a report into an expectations file
``trainspec diff``   compare two reports (or expectations files): every changed, new or gone row
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
from trainspec.conformance import adapter_kit, discovery, expectations
from trainspec.conformance.adapter import DEVICES, DTYPES
from trainspec.conformance.profiles import PROFILES
from trainspec.conformance.report import build_report, matrix_text, merge_reports, write_report
from trainspec.conformance.runner import Row, run_matrix
from trainspec.conformance.spec_text import describe

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
    r.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if any row diverges or errs (with --expect: if any row differs from its pin)",
    )
    r.add_argument(
        "--expect",
        default=None,
        metavar="FILE",
        help="an expectations file (trainspec lock): report every row that changed, is new or gone",
    )

    s = sub.add_parser("spec", help="print the spec registry")
    s.add_argument("--json", action="store_true", help="print the registry as a JSON list")
    s.add_argument(
        "--id", default=None, help="this spec ID or prefix, in full (formula, variants, citations)"
    )
    s.add_argument(
        "--site",
        default=None,
        metavar="DIR",
        help="write the spec pages (Markdown, one per family) into DIR (docs/spec in the repository)",
    )
    s.add_argument(
        "--report-json",
        default=None,
        help="the report whose verdicts the pages show (default: docs/reports/cpu/report.json)",
    )
    adapter_kit.add_spec_options(s)

    m = sub.add_parser("merge", help="merge report.json files into one report")
    m.add_argument(
        "inputs", nargs="+", help="report.json files, or folders searched for */report.json"
    )
    m.add_argument(
        "--report", required=True, help="folder for the merged report.json and report.md"
    )

    sub.add_parser("errata", help="run every erratum's check")
    adapter_kit.add_parsers(sub)

    lk = sub.add_parser("lock", help="pin every row of report.json files into an expectations file")
    lk.add_argument(
        "inputs", nargs="+", help="report.json files (merged in order: a later row wins)"
    )
    lk.add_argument("--out", required=True, help="the expectations file to write")
    lk.add_argument("--backend", action="append", help="pin only this backend's rows (repeatable)")

    d = sub.add_parser("diff", help="compare two reports or expectations files row by row")
    d.add_argument("old", help="the earlier report.json or expectations file")
    d.add_argument("new", help="the later report.json or expectations file")
    d.add_argument("--strict", action="store_true", help="exit 1 if any row differs")
    return p


def _cmd_spec(args: argparse.Namespace) -> int:
    if args.contract:
        return adapter_kit.cmd_contract(args)
    try:
        entries = reference.entries_matching(args.id)
    except KeyError as exc:
        print(f"trainspec spec: --id: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.site:
        from trainspec.conformance import site

        try:
            written = site.write_site(args.site, report_json=args.report_json)
        except FileNotFoundError as exc:
            print(f"trainspec spec --site: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {len(written)} pages into {args.site}")
        return 0
    if args.json:
        print(json.dumps([e.to_json() for e in entries], indent=1))
        return 0
    if args.id is None:
        print(
            f"trainspec spec {reference.SPEC_VERSION}: {len(entries)} IDs (--id ID for one in full)"
        )
        for e in entries:
            print(f"{e.id:<26} [{e.tier}]  {e.title}")
        return 0
    print("\n\n".join(describe(e) for e in entries))
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
    print(f"\nwrote {j} and {m}")
    if not adapters:
        print(
            "trainspec run: no backend could be loaded; install one (pip install 'trainspec[torch]')",
            file=sys.stderr,
        )
        return 1
    bad = [r for r in rows if r.verdict in ("diverges", "error")]
    if bad:
        print(f"{len(bad)} row(s) diverge or fail; replay each with the command printed above.")
    if args.expect:
        changed = _check_expectations(args, report, entries, dtypes)
        if changed is None:
            return 2
        return 1 if changed and args.strict else 0
    return 1 if bad and args.strict else 0


def _check_expectations(
    args: argparse.Namespace, report: dict[str, Any], entries: Sequence[Any], dtypes: list[str]
) -> int | None:
    """Print every difference between the run and ``--expect``; the number of them (``None``:
    the file could not be read). A pinned row the run was not asked for is not ``gone``."""
    try:
        _, pinned = expectations.load_pins(args.expect)
    except ValueError as exc:
        print(f"trainspec run: --expect: {exc}", file=sys.stderr)
        return None
    spec_ids = {e.id for e in entries}
    backends = set(report["backends"])

    def in_scope(key: expectations.RowKey) -> bool:
        spec, backend, impl, device, dtype = key
        return (
            spec in spec_ids
            and backend in backends
            and device == args.device
            and (dtype == "-" or dtype in dtypes)
            and (args.impl is None or impl == args.impl)
        )

    measured = expectations.pins_of_report(report)
    changes = expectations.compare(pinned, measured, in_scope=in_scope)
    print()
    print(expectations.summary(changes, len(measured)))
    return len(changes)


def _cmd_lock(args: argparse.Namespace) -> int:
    reports = []
    for path in args.inputs:
        try:
            reports.append(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"trainspec lock: {path}: cannot read a report: {exc}", file=sys.stderr)
            return 2
    try:
        doc = expectations.lock(merge_reports(reports), backends=args.backend)
    except ValueError as exc:
        print(f"trainspec lock: {exc}", file=sys.stderr)
        return 2
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    print(f"pinned {len(doc['rows'])} row(s) into {args.out}")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    try:
        _, old = expectations.load_pins(args.old)
        _, new = expectations.load_pins(args.new)
    except ValueError as exc:
        print(f"trainspec diff: {exc}", file=sys.stderr)
        return 2
    changes = expectations.compare(old, new)
    print(expectations.summary(changes, len(new)))
    return 1 if changes and args.strict else 0


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
    print(f"\nwrote {j} and {m}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {
        "run": _cmd_run,
        "spec": _cmd_spec,
        "merge": _cmd_merge,
        "errata": _cmd_errata,
        "check-adapter": adapter_kit.cmd_check_adapter,
        "new-adapter": adapter_kit.cmd_new_adapter,
        "lock": _cmd_lock,
        "diff": _cmd_diff,
    }
    return commands[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
