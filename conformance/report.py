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
) -> dict[str, Any]:
    import hypothesis

    return {
        "trainspec": trainspec.__version__,
        "spec_version": SPEC_VERSION,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "profile": profile,
        "seed": seed,
        "devices": list(devices),
        "environment": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "numpy": np.__version__,
            "hypothesis": hypothesis.__version__,
        },
        "backends": backends,
        "results": [r.to_json() for r in rows],
    }


def merge_reports(reports: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One report from several (for example one per tox environment); later rows win on the same key."""
    merged: dict[str, Any] | None = None
    keyed: dict[tuple[str, ...], dict[str, Any]] = {}
    for rep in reports:
        if "results" not in rep or "backends" not in rep:
            raise ValueError(
                "report: must be a trainspec report.json with 'results' and 'backends'"
            )
        if merged is None:
            merged = {k: v for k, v in rep.items() if k != "results"}
            merged["backends"] = dict(rep["backends"])
        else:
            merged["backends"].update(rep["backends"])
            merged["devices"] = sorted(set(merged.get("devices", [])) | set(rep.get("devices", [])))
        for r in rep["results"]:
            keyed[(r["spec_id"], r["backend"], r["implementation"], r["device"], r["dtype"])] = r
    if merged is None:
        raise ValueError("reports: nothing to merge")
    merged["results"] = list(keyed.values())
    return merged


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
