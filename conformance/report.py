"""The report: ``report.json`` (machine-readable) and ``report.md`` (for people), and the matrix.

``report.json`` is ``{"results": [row, ...], "backends": {...}, ...}``; each row has ``spec_id``,
``backend``, ``implementation``, ``device``, ``dtype``, ``verdict``, ``variant``,
``consistent_variants``, ``max_error``, ``tolerance``, ``ratio``, ``counterexample``, ``repro``,
``examples``, ``seconds`` and ``message``. ``backends`` holds, per backend, the versions of every
package involved (or why it did not load) and the seconds the backend took.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import trainspec
from trainspec.conformance.runner import Row
from trainspec.reference import SPEC_VERSION

__all__ = ["build_report", "matrix_text", "merge_reports", "write_report"]


def build_report(
    rows: Sequence[Row],
    backends: dict[str, dict[str, Any]],
    *,
    profile: str,
    seed: int,
    devices: Sequence[str],
    status: str = "complete",
    run: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report of one run. ``status`` is ``complete``, or ``interrupted`` for the partial
    report of a run stopped early (``trainspec run --resume`` finishes it); ``run`` holds the
    run's settings (``timeout_s``, the per-row time limit, among them)."""
    import hypothesis

    return {
        "trainspec": trainspec.__version__,
        "spec_version": SPEC_VERSION,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "status": status,
        "profile": profile,
        "seed": seed,
        "devices": list(devices),
        "run": dict(run or {}),
        "environment": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "numpy": np.__version__,
            "hypothesis": hypothesis.__version__,
        },
        "backends": backends,
        "results": [r.to_json() for r in rows],
    }


#: what the parts of a merged report must agree on (unless ``allow_mixed``)
PROVENANCE_KEYS = ("trainspec", "profile", "seed")


def merge_reports(
    reports: Iterable[dict[str, Any]],
    *,
    sources: Sequence[str] | None = None,
    allow_mixed: bool = False,
    replace: bool = False,
) -> dict[str, Any]:
    """One report from several parts (one per tox environment, or per shard).

    The parts must agree on the trainspec version, profile and seed (``allow_mixed`` lets them
    differ; the merged field is then the sorted list of the parts' values), must be complete
    (an ``interrupted`` part is finished with ``trainspec run --resume`` first) and must not
    hold the same row twice (``replace``: a later part's row replaces an earlier one's). Shards of one run (``run.shard`` ``[i, n]``) must all be present.
    Each part's provenance is kept in ``parts`` (``sources`` names them, e.g. their paths)."""
    reports = list(reports)
    names = list(sources) if sources is not None else [f"part {k + 1}" for k in range(len(reports))]
    if not reports:
        raise ValueError("reports: nothing to merge")
    for name, rep in zip(names, reports, strict=True):
        if "results" not in rep or "backends" not in rep:
            raise ValueError(
                f"{name}: must be a trainspec report.json with 'results' and 'backends'"
            )
        if rep.get("status", "complete") != "complete":
            raise ValueError(
                f"{name}: is {rep.get('status')!r}, not complete; finish it with "
                "trainspec run --resume --report <its folder>"
            )
    merged: dict[str, Any] = {k: v for k, v in reports[0].items() if k != "results"}
    for key in PROVENANCE_KEYS:
        values = [rep.get(key) for rep in reports]
        if len({json.dumps(v) for v in values}) > 1:
            if not allow_mixed:
                raise ValueError(
                    f"the parts differ in {key}: "
                    + ", ".join(f"{n}: {v!r}" for n, v in zip(names, values, strict=True))
                    + "; merge parts of one run, or pass --allow-mixed to merge them anyway"
                )
            merged[key] = sorted({json.dumps(v) for v in values})
            merged[key] = [json.loads(v) for v in merged[key]]
    _check_shards(reports, names)
    merged["backends"] = {}
    merged["devices"] = sorted({d for rep in reports for d in rep.get("devices", [])})
    merged["parts"] = []
    keyed: dict[tuple[str, ...], dict[str, Any]] = {}
    where: dict[tuple[str, ...], str] = {}
    for name, rep in zip(names, reports, strict=True):
        merged["backends"].update(rep["backends"])
        merged["parts"].append(
            {
                "source": name,
                **{k: rep.get(k) for k in (*PROVENANCE_KEYS, "generated", "devices", "run")},
                "environment": rep.get("environment", {}),
                "backends": sorted(rep["backends"]),
                "rows": len(rep["results"]),
            }
        )
        for r in rep["results"]:
            rkey = (r["spec_id"], r["backend"], r["implementation"], r["device"], r["dtype"])
            if rkey in keyed and not replace:
                raise ValueError(
                    f"row {rkey} is in both {where[rkey]} and {name}; each row must come from one "
                    "part (--replace: a later part's row replaces an earlier one's)"
                )
            keyed[rkey], where[rkey] = r, name
    merged["results"] = list(keyed.values())
    return merged


def _check_shards(reports: Sequence[dict[str, Any]], names: Sequence[str]) -> None:
    """Shards of one run (same settings but ``shard``) must all be there, each once: ``n`` parts
    with ``shard`` ``[1, n]`` to ``[n, n]``."""
    groups: dict[str, list[tuple[str, list[int]]]] = defaultdict(list)
    for name, rep in zip(names, reports, strict=True):
        run = dict(rep.get("run") or {})
        shard = run.pop("shard", None)
        run.pop("jobs", None)
        if shard:
            groups[json.dumps(run, sort_keys=True)].append((name, list(shard)))
    for parts in groups.values():
        totals = {s[1] for _, s in parts}
        if len(totals) > 1:
            raise ValueError(
                "the parts mix shards of different splits: "
                + ", ".join(f"{n}: {s[0]}/{s[1]}" for n, s in parts)
            )
        (total,) = totals
        seen = sorted(s[0] for _, s in parts)
        missing = sorted(set(range(1, total + 1)) - set(seen))
        twice = sorted({i for i in seen if seen.count(i) > 1})
        if missing or twice:
            raise ValueError(
                f"shards of {total} of one run: "
                + "; ".join(
                    x
                    for x in (
                        f"missing {', '.join(f'{i}/{total}' for i in missing)}" if missing else "",
                        f"given twice {', '.join(f'{i}/{total}' for i in twice)}" if twice else "",
                    )
                    if x
                )
            )


def _cell(rows: list[dict[str, Any]]) -> str:
    """Summarise one (spec, backend) cell over implementations, dtypes and devices."""
    if not rows:
        return ""
    verdicts = {r["verdict"] for r in rows}
    if verdicts == {"not_offered"}:
        if all(r.get("message", "").startswith("reference only") for r in rows):
            return "reference only"
        return "not offered"
    parts = []
    checked = [r for r in rows if r["verdict"] != "not_offered"]
    for verdict in ("diverges", "error"):
        n = sum(r["verdict"] == verdict for r in checked)
        if n:
            found = sum(
                r["verdict"] == verdict and r.get("message", "").startswith("finding:")
                for r in checked
            )
            note = f" ({found} known finding{'s' if found > 1 else ''})" if found else ""
            parts.append(f"{verdict} {n}/{len(checked)}{note}")
    variants = sorted({r["variant"] for r in checked if r["verdict"] == "variant"})
    if variants:
        parts.append("variant " + " / ".join(variants))
    n_conf = sum(r["verdict"] == "conforms" for r in checked)
    if n_conf == len(checked):
        return "conforms"
    if n_conf:
        parts.append(f"conforms {n_conf}/{len(checked)}")
    return "; ".join(parts)


def matrix(
    results: Sequence[dict[str, Any]],
) -> tuple[list[str], list[str], dict[tuple[str, str], str]]:
    specs = sorted({r["spec_id"] for r in results if r["spec_id"] != "*"})
    backends = sorted({r["backend"] for r in results})
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[(r["spec_id"], r["backend"])].append(r)
    return specs, backends, {k: _cell(v) for k, v in groups.items()}


def matrix_text(report: dict[str, Any]) -> str:
    """The spec x backend matrix as an aligned text table (what ``trainspec run`` prints)."""
    specs, backends, cells = matrix(report["results"])
    header = ["spec", *backends]
    lines = [[s, *(cells.get((s, b), "") for b in backends)] for s in specs]
    widths = [max(len(x) for x in col) for col in zip(header, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    out += [fmt.format(*ln) for ln in lines]
    for b, info in report["backends"].items():
        if info.get("status", "ok") != "ok":
            out.append(f"{b}: {info['status']}")
    return "\n".join(out)


def _fmt(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.3g}"
    return str(x)


def markdown(report: dict[str, Any]) -> str:
    specs, backends, cells = matrix(report["results"])
    out = [
        "# trainspec conformance report",
        "",
        f"trainspec {report['trainspec']}, spec {report.get('spec_version', 'unstated')}, profile `{report['profile']}`, seed {report['seed']}, "
        f"devices {', '.join(report['devices'])}, generated {report['generated']}.",
        "",
        "Verdicts: **conforms** (the spec's default form is within tolerance on every example), "
        "**variant X** (a named variant is, and the default form is not), **diverges** (no variant is; "
        "minimal counterexample below), **not offered**, **error** (the adapter raised).",
        "",
        "## Matrix",
        "",
        "| spec | " + " | ".join(backends) + " |",
        "| --- | " + " | ".join("---" for _ in backends) + " |",
    ]
    out += [
        "| " + " | ".join([f"`{s}`", *(cells.get((s, b), "") for b in backends)]) + " |"
        for s in specs
    ]
    out += [
        "",
        "## Backends",
        "",
        "| backend | status | seconds | versions |",
        "| --- | --- | --- | --- |",
    ]
    for b, info in sorted(report["backends"].items()):
        versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
        out.append(
            f"| {b} | {info.get('status', 'ok')} | {_fmt(info.get('seconds'))} | {versions} |"
        )
    env = report.get("environment", {})
    out += ["", "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), ""]
    out += [
        "## Rows",
        "",
        "| spec | backend | implementation | device | dtype | verdict | variant | also consistent | max error | tolerance | examples | s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = sorted(
        report["results"],
        key=lambda r: (r["spec_id"], r["backend"], r["implementation"], r["device"], r["dtype"]),
    )
    for r in rows:
        also = ", ".join(v for v in r.get("consistent_variants", []) if v != r.get("variant"))
        out.append(
            "| "
            + " | ".join(
                [
                    f"`{r['spec_id']}`",
                    r["backend"],
                    f"`{r['implementation']}`",
                    r["device"],
                    r["dtype"],
                    f"**{r['verdict']}**",
                    _fmt(r.get("variant")),
                    also,
                    _fmt(r.get("max_error")),
                    _fmt(r.get("tolerance")),
                    _fmt(r.get("examples")),
                    _fmt(r.get("seconds")),
                ]
            )
            + " |"
        )
    bad = [r for r in rows if r["verdict"] in ("diverges", "error")]
    if bad:
        out += ["", "## Counterexamples and errors", ""]
        for r in bad:
            out += [
                f"### `{r['spec_id']}` on {r['backend']} `{r['implementation']}` ({r['device']}, {r['dtype']}): {r['verdict']}",
                "",
                r.get("message", "").strip(),
                "",
                f"Replay: `{r['repro']}`",
                "",
                "```json",
                json.dumps(r.get("counterexample"), indent=1)[:6000],
                "```",
                "",
            ]
    return "\n".join(out) + "\n"


def write_report(report: dict[str, Any], directory: str | Path) -> tuple[Path, Path]:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    j, m = d / "report.json", d / "report.md"
    j.write_text(json.dumps(report, indent=1, default=_json_default) + "\n")
    m.write_text(markdown(report))
    return j, m


def _json_default(x: Any) -> Any:
    if isinstance(x, np.floating | np.integer):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
