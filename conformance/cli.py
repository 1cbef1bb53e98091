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
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis.configuration import set_hypothesis_home_dir

import trainspec
from trainspec import reference
from trainspec.conformance import adapter_kit, discovery, expectations, repro
from trainspec.conformance.adapter import DEVICES, DTYPES
from trainspec.conformance.compile_cache import compilation_cache
from trainspec.conformance.journal import (
    Journal,
    ReportFolderError,
    check_report_folder,
    read_journal,
)
from trainspec.conformance.profiles import PROFILES
from trainspec.conformance.report import build_report, matrix_text, merge_reports, write_report
from trainspec.conformance.runner import DEFAULT_TIMEOUT, MatrixRun, Row, row_key
from trainspec.conformance.spec_text import describe
from trainspec.conformance.worker import DEFAULT_WORKER_MEMORY

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trainspec", description="Executable spec of training formulas and a conformance kit."
    )
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser(
        "run",
        help="run the conformance matrix and write the report",
        description=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(r)

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
    m.add_argument(
        "--allow-mixed",
        action="store_true",
        help="merge parts of different trainspec versions, profiles or seeds (default: refuse)",
    )
    m.add_argument(
        "--replace",
        action="store_true",
        help="a row in several parts: the last part's wins (default: refuse)",
    )
    m.add_argument("--force", action="store_true", help="overwrite a report in --report")

    sub.add_parser("errata", help="run every erratum's check")
    adapter_kit.add_parsers(sub)
    repro.add_parser(sub)

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


RUN_EPILOG = """\
Rows run in one worker process per backend (--jobs N: N of them); each row has a time limit
(--timeout, default 300 s): a row that exceeds it, or whose worker dies, is an error row and the
run goes on in a fresh worker (a row whose worker had measured other rows before it died is
first measured again in a fresh one, and the row says so). A worker whose resident memory passes
--worker-memory after a row (frameworks keep what they compiled) is replaced by a fresh one; the
report gives each backend's largest worker. Rows are appended to REPORT/rows.jsonl as they
finish; Ctrl-C writes a partial report marked interrupted, and --resume finishes it.

exit status:
  0    the run finished (whatever the verdicts, unless --strict)
  1    --strict: a row is an error, or diverges without being a known finding, or a
       backend failed; or no backend could be loaded
  2    usage: an unknown --spec, --impl or --backend, an absent --device, a report folder
       that already holds a report (without --force or --resume) or cannot be written
  130  interrupted (Ctrl-C): the partial report is written; --resume finishes it
"""


def _add_run_options(r: argparse.ArgumentParser) -> None:
    r.add_argument(
        "--backend",
        action="append",
        help="backend to check (repeatable; default: every installed one)",
    )
    r.add_argument("--device", choices=DEVICES, default=None, help="device (default: cpu)")
    r.add_argument(
        "--allow-absent-device",
        action="store_true",
        help="a backend without --device gets not_offered rows (default: an error, exit 2)",
    )
    r.add_argument(
        "--profile", choices=list(PROFILES), default=None, help="hypothesis profile (default: ci)"
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
        help="folder for report.json, report.md and the journal rows.jsonl (default: ./report)",
    )
    r.add_argument(
        "--force", action="store_true", help="overwrite a report already in the --report folder"
    )
    r.add_argument(
        "--resume",
        action="store_true",
        help="finish the interrupted run in --report (its settings are read from its journal)",
    )
    r.add_argument(
        "--timeout",
        type=_positive_float,
        default=None,
        help=f"seconds one row may take (default: {DEFAULT_TIMEOUT:g})",
    )
    r.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        help="worker processes per backend (default: 1; the report does not depend on it)",
    )
    r.add_argument(
        "--worker-memory",
        type=_positive_int,
        default=None,
        metavar="MIB",
        help="a worker whose resident memory passes MIB after a row is replaced by a fresh one "
        f"(default: {DEFAULT_WORKER_MEMORY // 2**20}; the report does not depend on it)",
    )
    r.add_argument(
        "--shard",
        type=_shard,
        default=None,
        help="i/n: only the rows k of the plan with k mod n = i - 1 (merge the n parts)",
    )
    r.add_argument("--quiet", action="store_true", help="do not print a line per row")
    r.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 on an error row, a divergence that is not a known finding, a failed backend, "
        "or (with --expect) a row that differs from its pin",
    )
    r.add_argument(
        "--expect",
        default=None,
        metavar="FILE",
        help="an expectations file (trainspec lock): report every row that changed, is new or gone",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a positive number of seconds")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number of at least 1")
    return value


def _shard(text: str) -> tuple[int, int]:
    i, sep, n = text.partition("/")
    if not (sep and i.isdigit() and n.isdigit() and 1 <= int(i) <= int(n)):
        raise argparse.ArgumentTypeError(f"{text!r}: must be i/n with 1 <= i <= n, e.g. 2/4")
    return int(i), int(n)


class _UsageError(Exception):
    """A run that cannot start as asked (exit 2)."""


#: run settings kept in the journal (what ``--resume`` reuses) and in the report (``run``)
_SETTINGS = (
    *("backends", "device", "allow_absent_device", "profile", "seed", "spec", "impl"),
    *("dtypes", "timeout_s", "shard"),
)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run's settings from the command line (defaults filled in)."""
    profile = args.profile or "ci"
    seed = args.seed
    if seed is None:
        seed = random.SystemRandom().randrange(2**31) if profile == "thorough" else 0
    return {
        "backends": list(dict.fromkeys(args.backend)) if args.backend else None,
        "device": args.device or "cpu",
        "allow_absent_device": bool(args.allow_absent_device),
        "profile": profile,
        "seed": seed,
        "spec": args.spec,
        "impl": args.impl,
        "dtypes": list(dict.fromkeys(args.dtype)) if args.dtype else list(DTYPES),
        "timeout_s": args.timeout if args.timeout is not None else DEFAULT_TIMEOUT,
        "shard": list(args.shard) if args.shard else None,
    }


def _resumed_settings(args: argparse.Namespace, header: dict[str, Any]) -> dict[str, Any]:
    """The journal's settings; an option given on the command line must agree with them."""
    saved = dict(header.get("settings", {}))
    given = {
        "backends": list(dict.fromkeys(args.backend)) if args.backend else None,
        "device": args.device,
        "allow_absent_device": args.allow_absent_device or None,
        "profile": args.profile,
        "seed": args.seed,
        "spec": args.spec,
        "impl": args.impl,
        "dtypes": list(dict.fromkeys(args.dtype)) if args.dtype else None,
        "timeout_s": args.timeout,
        "shard": list(args.shard) if args.shard else None,
    }
    clash = [k for k, v in given.items() if v is not None and v != saved.get(k)]
    if clash:
        raise _UsageError(
            "--resume: the run in "
            f"{args.report} was started with "
            + ", ".join(f"{k}={saved.get(k)!r}" for k in clash)
            + "; drop "
            + ", ".join(f"{k}={given[k]!r}" for k in clash)
            + " or start a new report"
        )
    missing = [k for k in _SETTINGS if k not in saved]
    if missing:
        raise _UsageError(f"--resume: the journal in {args.report} lacks the settings {missing}")
    return saved


def _entries(pattern: str | None) -> list[Any]:
    try:
        return reference.entries_matching(pattern)
    except KeyError:
        ids = [e.id for e in reference.all_entries()]
        prefixes = {i.split(".")[0] for i in ids}
        raise _UsageError(
            f"--spec {pattern}: no spec ID is or starts with it"
            + discovery.close_matches(str(pattern), [*ids, *prefixes])
            + "; trainspec spec lists them"
        ) from None


def _check_started(
    run: MatrixRun, settings: dict[str, Any], entries: list[Any], refs: dict[str, Any]
) -> None:
    """What can only be checked once the backends are loaded: a named backend is installed,
    the device is there, ``--impl`` names an implementation."""
    for name, m in run.manifests.items():
        if settings["backends"] and not m.loaded:
            raise _UsageError(
                f"--backend {name}: {m.status}; run it in the {refs[name].environment}"
            )
    device = settings["device"]
    absent = [
        f"{name} (devices: {', '.join(m.available)})"
        for name, m in run.manifests.items()
        if m.impls is not None and device not in m.available
    ]
    if absent and not settings["allow_absent_device"]:
        raise _UsageError(
            f"--device {device}: not available to {'; '.join(absent)}; pass "
            "--allow-absent-device to record its rows as not_offered instead"
        )
    impl = settings["impl"]
    if impl is not None:
        ids = {e.id for e in entries}
        names = {i.name for m in run.manifests.values() for i in m.implementations()}
        here = {
            i.name for m in run.manifests.values() for i in m.implementations() if i.spec_id in ids
        }
        if impl not in here:
            where = "of the selected specs " if settings["spec"] else ""
            raise _UsageError(
                f"--impl {impl!r}: no implementation {where}has this name"
                + discovery.close_matches(impl, here or names)
            )


def _print_row(row: Row) -> None:
    what = row.variant if row.verdict in ("variant", "diverges") else ""
    print(
        f"  {row.backend:<10} {row.spec_id:<18} {row.implementation:<42} {row.device:<4} "
        f"{row.dtype:<8} {row.verdict:<11} {what}  ({row.examples} ex, {row.seconds:.1f}s)",
        flush=True,
    )
    if row.verdict in ("diverges", "error"):
        first = row.message.splitlines()[0] if row.message else ""
        replay = f"\n      replay: {row.repro}" if row.repro else ""
        print(f"      {first}{replay}", flush=True)


def _strict_failures(rows: list[Row], backends: dict[str, dict[str, Any]]) -> list[str]:
    """What fails ``--strict``: error rows, divergences that are not known findings, backends
    whose status is an error."""
    out = [
        f"{r.backend} {r.spec_id} {r.implementation!r} {r.dtype}: error"
        for r in rows
        if r.verdict == "error"
    ]
    out += [
        f"{r.backend} {r.spec_id} {r.implementation!r} {r.dtype}: diverges (not a known finding)"
        for r in rows
        if r.verdict == "diverges" and not r.message.startswith("finding:")
    ]
    out += [
        f"{b}: {i['status']}"
        for b, i in backends.items()
        if str(i.get("status", "ok")).startswith("error")
    ]
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        with compilation_cache(args.report):  # JAX compiles once per report folder
            return _run(args)
    except _UsageError as exc:
        print(f"trainspec run: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    try:
        folder = check_report_folder(args.report, force=args.force, resume=args.resume)
    except ReportFolderError as exc:
        raise _UsageError(str(exc)) from None
    done: dict[Any, Row] = {}
    if args.resume:
        try:
            header, done, _ = read_journal(folder)
        except ValueError as exc:
            raise _UsageError(f"--resume: {exc}") from None
        settings = _resumed_settings(args, header)
    else:
        settings = _settings(args)
    entries = _entries(settings["spec"])
    try:
        refs, clashes = discovery.resolve_backends(settings["backends"])
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    if clashes and settings["backends"]:
        raise _UsageError("; ".join(clashes.values()))
    if not refs and not clashes:
        raise _UsageError("no backend is registered")
    # Hypothesis keeps its files in the report folder, not in the current directory
    hypothesis_dir = str(Path(folder) / ".hypothesis")
    set_hypothesis_home_dir(hypothesis_dir)
    print(
        f"trainspec run: profile {settings['profile']}, seed {settings['seed']}, device "
        f"{settings['device']}, dtypes {', '.join(settings['dtypes'])}, time limit "
        f"{settings['timeout_s']:g} s per row"
        + (f", shard {settings['shard'][0]}/{settings['shard'][1]}" if settings["shard"] else "")
        + (f", resuming ({len(done)} rows done)" if args.resume else "")
    )
    backends: dict[str, dict[str, Any]] = {
        name: {"status": f"error: {why}", "versions": {}} for name, why in clashes.items()
    }
    run = MatrixRun(
        entries,
        refs,
        devices=[settings["device"]],
        dtypes=settings["dtypes"],
        profile=settings["profile"],
        seed_=settings["seed"],
        impl_filter=settings["impl"],
        timeout=settings["timeout_s"],
        jobs=args.jobs,
        hypothesis_dir=hypothesis_dir,
        shard=tuple(settings["shard"]) if settings["shard"] else None,
        worker_memory=args.worker_memory * 2**20 if args.worker_memory else None,
    )
    collected: dict[Any, Row] = dict(done)
    journal: Journal | None = None
    shard_scope: tuple[set[Any], set[Any], bool] | None = None
    report_args = {
        "profile": settings["profile"],
        "seed": settings["seed"],
        "devices": [settings["device"]],
        "run": {
            **settings,
            "jobs": args.jobs,
            "worker_memory_mib": args.worker_memory or DEFAULT_WORKER_MEMORY // 2**20,
        },
    }
    try:
        with run:
            run.start()
            _check_started(run, settings, entries, refs)
            if settings["shard"]:  # --expect compares this shard's rows (see _check_expectations)
                shard_scope = (
                    run.planned_keys(),
                    run.planned_keys(every_shard=True),
                    settings["shard"][0] == 1,
                )
            for name, m in run.manifests.items():
                if m.status != "ok":
                    print(f"  {name}: {m.status.splitlines()[0]}")
            if args.resume:
                journal = Journal.append_to(folder)
            else:
                journal = Journal.create(
                    folder, {"trainspec": trainspec.__version__, "settings": settings}
                )
            journal.backends({**backends, **run.backend_info()})

            def on_row(row: Row) -> None:
                collected[row_key(row)] = row
                assert journal is not None
                journal.row(row)
                if not args.quiet:
                    _print_row(row)

            rows = run.run(done=done, on_row=on_row)
            backends.update(run.backend_info())
            journal.backends(backends)
    except KeyboardInterrupt:
        if journal is None:  # nothing measured yet: nothing to resume
            print("\ntrainspec run: interrupted before the first row", file=sys.stderr)
            return 130
        backends.update(run.backend_info())
        report = build_report(
            list(collected.values()), backends, status="interrupted", **report_args
        )
        j, m = write_report(report, folder)
        journal.close()
        print(
            f"\ntrainspec run: interrupted; {len(collected)} rows are in {j} and {m} (marked "
            f"interrupted); finish the run with: {shlex.join(['trainspec', 'run', '--resume', '--report', str(folder)])}",
            file=sys.stderr,
        )
        return 130
    finally:
        if journal is not None:
            journal.close()
    report = build_report(rows, backends, **report_args)
    j, m = write_report(report, folder)
    print()
    print(matrix_text(report))
    print(f"\nwrote {j} and {m}{_html_note(m)}")
    if not any(mf.loaded for mf in run.manifests.values()):
        print(
            "trainspec run: no backend could be loaded; install one (pip install 'trainspec[torch]')",
            file=sys.stderr,
        )
        return 1
    n_div = sum(r.verdict == "diverges" for r in rows)
    n_known = sum(r.verdict == "diverges" and r.message.startswith("finding:") for r in rows)
    n_err = sum(r.verdict == "error" for r in rows)
    if n_div or n_err:
        print(
            f"{n_div} row(s) diverge ({n_known} known finding(s)), {n_err} error(s); replay each "
            "with the command printed above."
        )
    failures = _strict_failures(rows, backends)
    if args.expect:
        changed = _check_expectations(
            args, report, entries, settings["dtypes"], settings["device"], shard_scope
        )
        if changed is None:
            return 2
        if changed:
            failures.append(f"{changed} row(s) differ from their pins in {args.expect}")
    if args.strict and failures:
        print(f"--strict: {len(failures)} failure(s): " + "; ".join(failures[:5]), file=sys.stderr)
        return 1
    return 0


def _check_expectations(
    args: argparse.Namespace,
    report: dict[str, Any],
    entries: Sequence[Any],
    dtypes: list[str],
    device: str,
    shard_scope: tuple[set[Any], set[Any], bool] | None = None,
) -> int | None:
    """Print every difference between the run and ``--expect``; the number of them (``None``:
    the file could not be read). A pinned row the run was not asked for is not ``gone``.

    ``shard_scope`` = (this shard's row keys, the whole plan's, whether this is shard 1): a
    shard compares its own rows, and shard 1 also the pinned rows that no shard plans any more
    (so a row gone from the framework is reported once, by one shard)."""
    try:
        doc, pinned = expectations.load_pins(args.expect)
    except ValueError as exc:
        print(f"trainspec run: --expect: {exc}", file=sys.stderr)
        return None
    fields = expectations.fields_compared(doc, report.get("profile"), report.get("seed"))
    spec_ids = {e.id for e in entries}
    backends = set(report["backends"])

    def in_scope(key: expectations.RowKey) -> bool:
        spec, backend, impl, key_device, dtype = key
        asked = (
            spec in spec_ids
            and backend in backends
            and key_device == device
            and (dtype == "-" or dtype in dtypes)
            and (args.impl is None or impl == args.impl)
        )
        if not asked or shard_scope is None:
            return asked
        mine, planned, first = shard_scope
        return key in mine or (first and key not in planned)

    measured = expectations.pins_of_report(report)
    changes = expectations.compare(pinned, measured, in_scope=in_scope, fields=fields)
    print()
    if fields != expectations.PIN_FIELDS:
        print(
            f"expectations: pinned at profile {doc.get('profile')}, seed {doc.get('seed')}; this "
            f"run compared on {', '.join(fields)} only (the decisions; see trainspec lock)"
        )
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


def _relative_to(path: Path, folder: str) -> str:
    """``path`` relative to ``folder`` (POSIX separators), or as given where none exists."""
    import os

    try:
        return Path(os.path.relpath(path.resolve(), Path(folder).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()


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
        merged = merge_reports(
            reports,
            # relative to the merged report's folder: a report names no path of the machine
            # it was merged on (a committed report stays the same on every clone)
            sources=[_relative_to(p, args.report) for p in paths],
            allow_mixed=args.allow_mixed,
            replace=args.replace,
        )
        folder = check_report_folder(args.report, force=args.force, resume=False)
    except ValueError as exc:
        print(f"trainspec merge: {exc}", file=sys.stderr)
        return 2
    j, m = write_report(merged, folder)
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
    commands = {
        "run": _cmd_run,
        "spec": _cmd_spec,
        "merge": _cmd_merge,
        "errata": _cmd_errata,
        "check-adapter": adapter_kit.cmd_check_adapter,
        "new-adapter": adapter_kit.cmd_new_adapter,
        "lock": _cmd_lock,
        "diff": _cmd_diff,
        "repro": repro.cmd_repro,
    }
    return commands[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
