"""The report: ``report.json`` (machine-readable) and ``report.md`` (for people), and the matrix.

``report.json`` is ``{"results": [row, ...], "backends": {...}, ...}``; each row has ``spec_id``,
``backend``, ``implementation``, ``device``, ``dtype``, ``verdict``, ``variant``,
``consistent_variants``, ``max_error``, ``tolerance``, ``ratio``, ``counterexample``, ``repro``,
``examples``, ``seconds``, ``message``, ``witnesses`` (examples run as witnesses before random
search) and ``indistinguishable`` (``{variant: reason}``: consistent variants that no candidate
case separates from the reported one in the row's dtype), and optional fields a reader may miss
in older reports (``explanation``: why a ``variant`` or ``diverges`` row is what it is).
``backends`` holds, per backend, the versions of every package involved (or why it did not
load) and the seconds the backend took.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import trainspec
from trainspec.conformance import precision
from trainspec.conformance.runner import Row
from trainspec.conformance.worker import RETRIED
from trainspec.reference import SPEC_VERSION

__all__ = ["build_report", "matrix_text", "merge_reports", "write_report"]
import html
import math


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
        for b, info in rep["backends"].items():
            before = merged["backends"].get(b)
            if before is not None and "seconds" in before and "seconds" in info:
                # several parts of one backend (shards, or one run per family): wall times add up
                info = {**info, "seconds": round(before["seconds"] + info["seconds"], 2)}
            if before is not None and "peak_worker_mib" in before:
                # each part ran its own workers: the largest of them, and every replacement
                info = {
                    **info,
                    "peak_worker_mib": max(
                        before["peak_worker_mib"], info.get("peak_worker_mib", 0)
                    ),
                    "workers_replaced_for_memory": before.get("workers_replaced_for_memory", 0)
                    + info.get("workers_replaced_for_memory", 0),
                }
            merged["backends"][b] = info
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


# ---------------------------------------------------------------------------------------------
# Reading a report for people: implementations per cell, units, the variants' glossary
# ---------------------------------------------------------------------------------------------

#: verdicts from the most to the least severe (a cell's colour is its most severe verdict)
SEVERITY = ("error", "diverges", "variant", "conforms", "not_offered")
#: one letter per verdict in the terminal matrix
LETTER = {"conforms": "C", "variant": "V", "diverges": "D", "error": "E", "not_offered": "-"}
DTYPE_SHORT = {"float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16", "-": "-"}

#: what ``max_error`` and ``tolerance`` measure, per family (the spec ID's prefix)
UNITS: dict[str, str] = {
    "act": "absolute error |framework - reference| of the worst element (value or derivative); "
    "tolerance: the tracked rounding bound of the reference times the safety factor, plus the "
    "dtype's floor (same unit); act.rrelu's slope distribution: a test statistic over its "
    "critical value",
    "clip": "absolute error of the worst clipped element; tolerance: tracked rounding bound",
    "drop": "deterministic parts (scaling, mask use): absolute error; the mask's distribution: "
    "a test statistic over its critical value at the stated false-alarm rate",
    "init": "a test statistic (distribution of the drawn weights) over its critical value at the "
    "stated false-alarm rate; fans and bias rules: absolute error",
    "loss": "absolute error of the loss or its gradient; tolerance: tracked rounding bound",
    "norm": "absolute error of the worst output or running-statistic element; tolerance: "
    "tracked rounding bound",
    "opt": "absolute error of the worst parameter after the example's steps; tolerance: tracked "
    "rounding bound of the reference times the safety factor, plus the dtype's floor",
    "reg": "absolute error of the penalty, its gradient or the constrained weights",
    "sched": "absolute error of the learning rate at the worst step; tolerance: tracked "
    "rounding bound",
    "train": "backprop: absolute error of the worst gradient element; early stopping: "
    "epochs (tolerance 0.5: the stopping epoch must match)",
}


def unit_of(spec_id: str) -> str:
    """What ``max_error``/``tolerance`` mean for ``spec_id`` (by family prefix)."""
    if spec_id.endswith(".defaults"):
        return "claims of documents compared with the framework's defaults (no numeric error)"
    return UNITS.get(spec_id.split(".")[0], "absolute error; tolerance in the same unit")


def fmt_num(x: Any) -> str:
    """A number for people: 3 significant digits; NaN and infinities named."""
    if x is None:
        return ""
    if isinstance(x, float):
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return f"{x:.3g}"
    return str(x)


def error_text(r: dict[str, Any]) -> str:
    """``ratio R (error E / tolerance T)``, the one unit of the report, with NaN/inf named."""
    if r.get("ratio") is None:
        return ""
    ratio, err, tol = r["ratio"], r.get("max_error"), r.get("tolerance")
    text = f"ratio {fmt_num(ratio)}"
    if err is not None:
        text += f" ({fmt_num(err)} / {fmt_num(tol)})"
    if isinstance(err, float) and not math.isfinite(err):
        text += " non-finite result" if math.isinf(err) else " NaN result"
    return text


def _key(r: dict[str, Any]) -> tuple[str, str, str]:
    return (r["spec_id"], r["backend"], r["implementation"])


def _dtype_order(d: str) -> int:
    order = ["float64", "float32", "float16", "bfloat16"]
    return order.index(d) if d in order else len(order)


def implementation_groups(
    results: Sequence[dict[str, Any]],
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Per (spec, backend, implementation): its checked rows, and the dtypes it never claims.

    A row ``not_offered`` because the implementation does not offer a dtype is coverage, not a
    result: it goes to ``unclaimed``. Every other row is in ``rows`` (sorted by dtype).
    """
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in results:
        if r["spec_id"] == "*":
            continue
        g = out.setdefault(_key(r), {"rows": [], "unclaimed": [], "reason": ""})
        if r["verdict"] == "not_offered" and "does not offer" in r.get("message", ""):
            g["unclaimed"].append(r["dtype"])
        else:
            g["rows"].append(r)
    for g in out.values():
        g["rows"].sort(key=lambda r: (r["device"], _dtype_order(r["dtype"])))
        g["unclaimed"].sort(key=_dtype_order)
        verdicts = [r["verdict"] for r in g["rows"]] or ["not_offered"]
        g["verdict"] = min(verdicts, key=SEVERITY.index)
    return out


def _impl_summary(group: dict[str, Any]) -> str:
    """``variant eps=inside (f64, f32); conforms (bf16)``: verdicts grouped over dtypes."""
    rows = group["rows"]
    if not rows:
        return "not offered"
    if all(r["verdict"] == "not_offered" for r in rows):
        msg = rows[0].get("message", "")
        return "reference only" if msg.startswith("reference only") else "not offered"
    parts: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        v = r["verdict"] + (f" {r['variant']}" if r["verdict"] == "variant" else "")
        found = " (known finding)" if r.get("message", "").startswith("finding:") else ""
        parts.setdefault((v + found, ""), []).append(DTYPE_SHORT.get(r["dtype"], r["dtype"]))
    if len(parts) == 1:
        return next(iter(parts))[0]
    return "; ".join(f"{v} ({', '.join(d)})" for (v, _), d in parts.items())


def cells(
    results: Sequence[dict[str, Any]],
) -> tuple[list[str], list[str], dict[tuple[str, str], list[tuple[str, dict[str, Any]]]]]:
    """Specs, backends, and per (spec, backend) cell its implementations with their groups."""
    groups = implementation_groups(results)
    specs = sorted({k[0] for k in groups})
    backends = sorted({r["backend"] for r in results})
    out: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for (spec, backend, impl), g in sorted(groups.items()):
        out[(spec, backend)].append((impl, g))
    return specs, backends, out


def _cell(rows: list[dict[str, Any]]) -> str:
    """Summarise one (spec, backend) cell: each implementation named with its verdicts."""
    _, _, by_cell = cells(rows)
    items = [it for cell in by_cell.values() for it in cell]
    if not items:
        return ""
    if len(items) == 1 and items[0][0] == "-":
        return _impl_summary(items[0][1])
    return "<br>".join(f"`{_md_safe(impl)}`: {_impl_summary(g)}" for impl, g in items)


def variant_glossary(results: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Every variant option (``axis=option``) that a row names, with its formula and meaning."""
    from trainspec import reference

    wanted: dict[str, set[str]] = defaultdict(set)
    for r in results:
        for name in [r.get("variant"), *r.get("consistent_variants", [])]:
            if name and name != "default":
                for part in name.split(", "):
                    wanted[r["spec_id"]].add(part)
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for spec in sorted(wanted):
        try:
            entry = reference.get(spec)
        except KeyError:
            continue
        for axis in (*entry.variant_axes, precision.AXIS):
            default = axis.options[0]
            for opt in axis.options:
                name = f"{axis.name}={opt.name}"
                if name in wanted[spec] and (spec, name) not in seen:
                    seen.add((spec, name))
                    out.append(
                        {
                            "spec": spec,
                            "name": name,
                            "formula": opt.formula,
                            "meaning": opt.description,
                            "default": f"{default.name}: {default.formula}",
                        }
                    )
    return out


def explanation_lines(row: Mapping[str, Any], limit: int = 8) -> list[str]:
    """A ``variant`` or ``diverges`` row's ``explanation`` (``Row.explanation``) as lines of
    text: its summary, the reported variant's and the default form's worst element, and per
    eliminated variant the check, example and ratio that eliminated it (the ``limit`` nearest
    first, then how many more)."""
    ex = row.get("explanation")
    if not isinstance(ex, Mapping):
        return []
    out = [f"why: {ex['summary']}"] if ex.get("summary") else []
    for key, label in (("worst", "reported"), ("default", "default form")):
        c = ex.get(key)
        if isinstance(c, Mapping) and c.get("text"):
            out.append(f"{label} ({c.get('variant')}): {c['text']}")
    eliminated = ex.get("eliminated") or []
    for e in eliminated[:limit]:
        text = e.get("text") or f"ratio {e.get('ratio')} at {e.get('where')}"
        out.append(
            f"eliminated {e.get('variant')} by {e.get('check')} example {e.get('example')}: {text}"
        )
    if len(eliminated) > limit:
        out.append(f"... and {len(eliminated) - limit} more eliminated variants (report.json)")
    return out


def timings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per backend: wall seconds of its run(s) and the sum of its rows' measured seconds."""
    per: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for r in report["results"]:
        per[r["backend"]] += float(r.get("seconds") or 0.0)
        count[r["backend"]] += r["verdict"] != "not_offered"
    out = []
    for b, info in sorted(report["backends"].items()):
        out.append(
            {
                "backend": b,
                "status": info.get("status", "ok"),
                "wall": info.get("seconds"),
                "rows": round(per.get(b, 0.0), 1),
                "checked": count.get(b, 0),
                "peak_mib": info.get("peak_worker_mib"),
                "versions": ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items()),
            }
        )
    return out


def matrix(
    results: Sequence[dict[str, Any]],
) -> tuple[list[str], list[str], dict[tuple[str, str], str]]:
    specs, backends, by_cell = cells(results)
    return (
        specs,
        backends,
        {k: "<br>".join(_render_md_item(i, g, len(v)) for i, g in v) for k, v in by_cell.items()},
    )


def _render_md_item(impl: str, g: dict[str, Any], n: int) -> str:
    if impl == "-" or (n == 1 and impl == "-"):
        return _impl_summary(g)
    return f"`{_md_safe(impl)}`: {_impl_summary(g)}"


def _terminal_token(g: dict[str, Any]) -> str:
    """One implementation in the terminal matrix: its verdict letters, and variants' options."""
    rows = g["rows"]
    if not rows:
        return "-"
    if all(r["verdict"] == "not_offered" for r in rows):
        return "R" if rows[0].get("message", "").startswith("reference only") else "-"
    letters = "".join(dict.fromkeys(LETTER[r["verdict"]] for r in rows))
    variants = sorted({r["variant"] for r in rows if r["verdict"] == "variant" and r["variant"]})
    short = "|".join("+".join(part.split("=", 1)[-1] for part in v.split(", ")) for v in variants)
    return letters + (f":{short}" if short else "")


def matrix_text(report: dict[str, Any], width: int = 120) -> str:
    """The spec x backend matrix for a terminal, at most ``width`` columns, with a legend.

    A cell holds one token per implementation (in the order of ``report.md``): the letters of
    its verdicts over dtypes (C conforms, V variant, D diverges, E error, - not offered, R
    reference only), then the options of the variants it matches (``V:eta_outside``); a cell
    longer than the column ends in ``~``.
    """
    specs, backends, by_cell = cells(report["results"])
    spec_w = max([4, *(len(s) for s in specs)])
    n = max(1, len(backends))
    cell_w = max(8, (width - spec_w - 2 * n) // n)

    def fit(text: str) -> str:
        return text if len(text) <= cell_w else text[: cell_w - 1] + "~"

    fmt = f"{{:<{spec_w}}}" + "".join(f"  {{:<{cell_w}}}" for _ in backends)
    out = [fmt.format("spec", *backends).rstrip(), fmt.format("-" * spec_w, *["-" * cell_w] * n)]
    for s in specs:
        row = [
            fit(" ".join(_terminal_token(g) for _, g in by_cell.get((s, b), []))) for b in backends
        ]
        out.append(fmt.format(s, *row).rstrip())
    out += [
        "one token per implementation: C conforms, V variant (its options after ':'), D diverges,",
        "E error, - not offered, R reference only; ~ cut (full cells: report.md, report.html)",
    ]
    for b, info in report["backends"].items():
        if info.get("status", "ok") != "ok":
            out.append(f"{b}: {info['status']}")
    return "\n".join(out)


def _one_line_json(x: Any, limit: int = 1500) -> str:
    text = json.dumps(x, default=_json_default, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 20] + f"... ({len(text)} chars)"


def markdown(report: dict[str, Any]) -> str:
    r"""``report.md``: the matrix, coverage, units, glossary, one line per cell, findings.

    Every number is also in ``report.json``; the Markdown gives each (spec, backend) cell one
    line of the table of implementations (an implementation that conforms in every dtype is one
    summary, any other lists its dtypes), lists the dtypes an implementation never claims as
    coverage, and folds counterexamples into ``<details>`` blocks without blank lines.
    """
    results = report["results"]
    specs, backends, cellmap = matrix(results)
    groups = implementation_groups(results)
    out = [
        "# trainspec conformance report",
        "",
        f"trainspec {report['trainspec']}, spec {report.get('spec_version', 'unstated')}, "
        f"profile `{report['profile']}`, seed {report['seed']}, "
        f"devices {', '.join(report['devices'])}, generated {report['generated']}. "
        "The same data, with plots and filters: `report.html`; every field: `report.json`.",
        "",
        "Verdicts: **conforms** (the spec's default form is within tolerance on every example), "
        "**variant X** (the named variant is, the default form is not; see the glossary), "
        "**diverges** (no variant is; minimal counterexample below), **not offered**, "
        "**error** (the adapter raised). Errors are stated as the **ratio** error/tolerance "
        "(<= 1 passes), followed by (absolute error / tolerance) in the family's unit (below).",
        "",
        "## Matrix",
        "",
        "Each cell names its implementations; dtypes in parentheses where verdicts differ.",
        "",
        "| spec | " + " | ".join(backends) + " |",
        "| --- | " + " | ".join("---" for _ in backends) + " |",
    ]
    out += [
        "| " + " | ".join([f"`{s}`", *(cellmap.get((s, b), "") for b in backends)]) + " |"
        for s in specs
    ]
    out += ["", "## Coverage", ""]
    for b in backends:
        mine = [g for k, g in groups.items() if k[1] == b and k[2] != "-"]
        checked = sum(len([r for r in g["rows"] if r["verdict"] != "not_offered"]) for g in mine)
        claims: defaultdict[str, int] = defaultdict(int)
        for g in mine:
            for r in g["rows"]:
                claims[r["dtype"]] += 1
        unclaimed: defaultdict[str, int] = defaultdict(int)
        for g in mine:
            for d in g["unclaimed"]:
                unclaimed[d] += 1
        none = sorted(s for (s, bb, i), g in groups.items() if bb == b and i == "-")
        out.append(
            f"- **{b}**: {len(mine)} implementations, {checked} rows checked; claimed "
            + ", ".join(f"{d} {claims[d]}" for d in sorted(claims, key=_dtype_order))
            + "; never claimed "
            + (
                ", ".join(f"{d} {unclaimed[d]}" for d in sorted(unclaimed, key=_dtype_order))
                or "none"
            )
            + (f"; no implementation of {', '.join(f'`{s}`' for s in none)}" if none else "")
        )
    out += ["", "## Backends and timings", ""]
    out += [
        "| backend | status | wall s | rows' s (sum) | rows checked | worker peak MiB | versions |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in timings(report):
        out.append(
            f"| {t['backend']} | {t['status']} | {fmt_num(t['wall'])} | {t['rows']} | "
            f"{t['checked']} | {fmt_num(t['peak_mib'])} | {t['versions']} |"
        )
    env = report.get("environment", {})
    out += ["", "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), ""]
    fams = sorted({s.split(".")[0] for s in specs})
    out += ["## Units of max error and tolerance", ""]
    out += [f"- `{f}`: {UNITS[f]}" for f in fams if f in UNITS]
    gloss = variant_glossary(results)
    if gloss:
        merged: dict[tuple[str, str, str, str], list[str]] = {}
        for g in gloss:
            key = (g["name"], g["formula"], g["meaning"], g["default"])
            merged.setdefault(key, []).append(g["spec"])
        out += ["", "## Variants named in this report", ""]
        out += [
            "| variant | specs | formula | meaning (default form) |",
            "| --- | --- | --- | --- |",
        ]
        out += [
            f"| `{name}` | {', '.join(f'`{sp}`' for sp in specs_)} | ${formula}$ | "
            f"{_md_safe(meaning)} (default `{_md_safe(default)}`) |"
            for (name, formula, meaning, default), specs_ in merged.items()
        ]
    out += [
        "",
        "## Implementations",
        "",
        "One line per spec and backend, one item per implementation. An implementation that "
        "conforms in every dtype it claims is one summary (its dtypes, its worst ratio, its "
        "examples and seconds); any other lists per dtype: verdict, variant, error, examples, "
        "seconds. *also*: the axes on which other variants are consistent with every example, with "
        "the options seen (report.json lists those variants); *indistinguishable*: the axes no "
        "candidate example separates in that dtype. The last column: the "
        "cell's total seconds.",
        "",
        "| spec | backend | implementations | s |",
        "| --- | --- | --- | --- |",
    ]
    by_cell: dict[tuple[str, str], list[tuple[str, list[dict[str, Any]]]]] = defaultdict(list)
    for (spec, b, impl), g in sorted(groups.items()):
        measured = [r for r in g["rows"] if r["verdict"] != "not_offered"]
        if measured:
            by_cell[(spec, b)].append((impl, measured))
    labels = finding_labels(results)
    for (spec, b), items in by_cell.items():
        texts = [_implementation_item(impl, measured, labels) for impl, measured in items]
        secs = sum(float(r.get("seconds") or 0.0) for _, rs in items for r in rs)
        out.append(f"| `{spec}` | {b} | {'<br>'.join(texts)} | {secs:.1f} |")
    if labels:
        out += ["", "## Findings", "", "The findings the table above names by label:", ""]
        out += [f"- **{label}**: {_md_safe(text)}" for text, label in labels.items()]
    bad = [r for r in results if r["verdict"] in ("diverges", "error")]
    if bad:
        out += ["", "## Counterexamples and errors", ""]
        by_impl: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in bad:
            by_impl[_key(r)].append(r)
        for (spec, b, impl), rs in sorted(by_impl.items()):
            rs.sort(key=lambda r: _dtype_order(r["dtype"]))
            first = rs[0]
            dts = ", ".join(r["dtype"] for r in rs)
            msg = first.get("message", "").strip().splitlines()[0] if first.get("message") else ""
            others = [r["dtype"] for r in rs[1:]]
            body = [
                f"replay: {first['repro']}"
                + (f"  (also --dtype {', '.join(others)})" if others else "")
            ]
            if first["verdict"] == "error":
                body += first.get("message", "").strip().splitlines()
            body.append(
                f"counterexample ({first['dtype']}, {error_text(first) or 'no ratio'}): "
                + _one_line_json(first.get("counterexample"))
            )
            body += explanation_lines(first, limit=3)
            # an HTML block ends at a blank line: the <pre> holds none
            body = [html.escape(line, quote=False) for line in body if line.strip()]
            out += [
                "<details><summary>"
                + html.escape(f"{spec} on {b} {impl} ({dts}): {first['verdict']}. {msg}")
                + "</summary><pre>",
                *body[:-1],
                body[-1] + "</pre></details>",
                "",
            ]
    return "\n".join(out) + "\n"


def _choices(variant: str) -> dict[str, str]:
    """A variant's name (``axis=option, ...``; ``default`` for none) as ``{axis: option}``."""
    if not variant or variant == "default":
        return {}
    return dict(part.partition("=")[::2] for part in variant.split(", "))


def undecided_axes(reported: str, others: Sequence[str]) -> dict[str, list[str]]:
    """The axes on which ``others`` (variants also consistent with every example) differ from the
    ``reported`` variant, each with the options seen (``default`` for an axis a name leaves at
    its default): ``report.md``'s compact form of a row's consistent variants (report.json lists
    them one by one)."""
    names = [_choices(reported), *(_choices(v) for v in others)]
    axes = list(dict.fromkeys(a for n in names for a in n))
    out: dict[str, list[str]] = {}
    for axis in axes:
        seen = list(dict.fromkeys(n.get(axis, "default") for n in names))
        if len(seen) > 1:
            out[axis] = seen
    return out


def _undecided_text(r: Mapping[str, Any]) -> str:
    """``; *also* axis ∈ {a, b}`` and ``; *indistinguishable in <dtype>*: axis`` of a row."""
    reported = r.get("variant") or "default"
    also = [v for v in r.get("consistent_variants", []) if v != reported]
    if not also:
        return ""
    text = "; *also* " + "; ".join(
        f"`{axis}` ∈ {{{', '.join(opts)}}}" for axis, opts in undecided_axes(reported, also).items()
    )
    same = sorted(r.get("indistinguishable") or {})
    if same:
        text += f"; *indistinguishable in {r['dtype']}*: " + ", ".join(
            f"`{a}`" for a in undecided_axes(reported, same)
        )
    return text


def finding_labels(results: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Short labels (``F1``, ``F2``, ...) for the findings of ``results`` whose ``finding`` is a
    text rather than an id (a whole-row finding): ``report.md`` prints each text once, under
    "Findings", and the label in the rows."""
    texts = sorted({str(r["finding"]) for r in results if r.get("finding")})
    long = [t for t in texts if " " in t or len(t) > 60]
    return {t: f"F{i}" for i, t in enumerate(long, 1)}


def retried_note(r: Mapping[str, Any]) -> str:
    """``; *measured again in a fresh worker (the first worker died of ...)*`` for a measured row
    whose first worker died (:mod:`trainspec.conformance.worker`), else ``""``."""
    msg = str(r.get("message") or "")
    if r.get("verdict") == "error" or RETRIED not in msg:
        return ""
    first = msg.split(RETRIED, 1)[1].removeprefix(": ").split(" | ")[0]
    first = first.split(" while measuring this row")[0]
    return f"; *{RETRIED} ({_md_safe(first)})*"


def _implementation_item(
    impl: str, measured: list[dict[str, Any]], labels: Mapping[str, str] | None = None
) -> str:
    """One implementation of a cell in ``report.md``'s table of implementations.

    An implementation that conforms in every dtype it claims (no finding, nothing detected) is
    one summary: its dtypes, its worst ratio, its examples and seconds; any other lists its
    dtypes one by one (verdict, variant, finding hits, error, examples, seconds, *also*, the
    variants it is *indistinguishable* from in that dtype).
    """
    name = f"`{_md_safe(impl)}`"
    also_of = {
        r["dtype"]: [v for v in r.get("consistent_variants", []) if v != r.get("variant")]
        for r in measured
    }
    pinned = next((r.get("pinned") for r in measured if r.get("pinned")), None)
    tail = (
        "; *not exercised (pinned)*: " + ", ".join(f"`{k}={v}`" for k, v in sorted(pinned.items()))
        if pinned
        else ""
    )
    plain = all(
        r["verdict"] == "conforms"
        and not r.get("finding")
        and not r.get("detectable")
        and not r.get("indistinguishable")
        and not retried_note(r)
        for r in measured
    )
    if plain:
        worst = max(
            measured,
            key=lambda r: -1.0 if r.get("ratio") is None else _sort_ratio(r["ratio"]),
        )
        dts = "/".join(DTYPE_SHORT.get(r["dtype"], r["dtype"]) for r in measured)
        text = f"{name}: **conforms** {dts}"
        if worst.get("ratio") is not None:
            text += f", max {error_text(worst)}"
        text += f", {sum(r.get('examples', 0) for r in measured)} ex, "
        text += f"{sum(float(r.get('seconds') or 0.0) for r in measured):.1f} s"
        also = list(dict.fromkeys(v for vs in also_of.values() for v in vs))
        if also:
            text += _undecided_text({"variant": "default", "consistent_variants": also})
        return text + tail
    # dtypes that read alike (verdict, variant, finding, undecided axes, detectable) share one
    # entry: their worst ratio, their examples and seconds summed
    alike: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in measured:
        text = f"**{r['verdict']}**"
        if r.get("variant") and r["variant"] != "default":
            text += f" `{r['variant']}`"
        if r.get("finding") and r["verdict"] != "diverges":
            label = (labels or {}).get(str(r["finding"]), r["finding"])
            text += f" (+ finding `{label}`)"
        rest = _undecided_text(r).replace(
            f"*indistinguishable in {r['dtype']}*", "*indistinguishable*"
        )
        for d in (r.get("detectable") or {}).values():
            rest += f"; detects {_md_safe(str(d['text']))}"
        rest += retried_note(r)
        alike.setdefault((text, rest), []).append(r)
    per_dtype: list[str] = []
    for (text, rest), rs in alike.items():
        dts = "/".join(DTYPE_SHORT.get(r["dtype"], r["dtype"]) for r in rs)
        worst = max(rs, key=lambda r: -1.0 if r.get("ratio") is None else _sort_ratio(r["ratio"]))
        hits = sum(int(r.get("finding_hits") or 0) for r in rs)
        if hits and text.endswith("`)"):  # the finding's hits, inside its parenthesis
            text = text[:-1] + f", {hits} ex)"
        if worst.get("ratio") is not None:
            text += f", {'max ' if len(rs) > 1 else ''}{error_text(worst)}"
        text += f", {sum(r.get('examples', 0) for r in rs)} ex, "
        text += f"{sum(float(r.get('seconds') or 0.0) for r in rs):.1f} s"
        per_dtype.append(f"{dts}: {text}{rest}")
    return f"{name}: " + "<br>&emsp;".join(per_dtype) + tail


def _sort_ratio(x: Any) -> float:
    """A ratio as a sort key: NaN above every number (a NaN result is the worst)."""
    x = float(x)
    return math.inf if math.isnan(x) else x


def _md_safe(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_html_if_possible(report: dict[str, Any], directory: Path) -> Path | None:
    """Write ``report.html`` when the ``report`` extra (Jinja2, Matplotlib) is installed."""
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("jinja2", "matplotlib")):
        return None
    from trainspec.conformance.html_report import write_html

    return write_html(report, directory / "report.html")


def write_report(
    report: dict[str, Any], directory: str | Path, *, html_report: bool = True
) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` (and ``report.html`` where the extra is installed)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    j, m = d / "report.json", d / "report.md"
    j.write_text(json.dumps(report, indent=1, default=_json_default) + "\n")
    m.write_text(markdown(report))
    if html_report:
        write_html_if_possible(report, d)
    return j, m


def _json_default(x: Any) -> Any:
    if isinstance(x, np.floating | np.integer):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
