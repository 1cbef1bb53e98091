r"""``report.html``: the conformance matrix as one self-contained page, with plots and filters.

The page needs no network: the style, the script and every plot (Matplotlib figures as inline
SVG) are in the file. It is rendered from a ``report.json`` with the Jinja2 template
``templates/report.html.j2`` (package data). Needs the ``report`` extra:
``pip install 'trainspec[report]'`` (Jinja2, Matplotlib).

What it shows
-------------
* the spec x backend grid, one sub-cell per implementation, coloured by its most severe verdict
  (error > diverges > variant > conforms > not offered), with a badge per dtype;
* filters by family, backend, dtype and verdict;
* a click on a sub-cell opens its rows: verdict, variant with each option's formula and meaning,
  error as the ratio $e/\tau$ to its tolerance (with both absolute values and the family's unit),
  the counterexample and the replay command;
* plots: per implementation the distribution of $\log_{10}(e/\tau)$ over the examples of each
  dtype (``Row.ratios``); for schedules the framework's learning rate against the reference's
  variants, and for diverging optimizer rows the trajectory of the worst parameter element
  (``Row.plot``, :mod:`trainspec.conformance.plots`).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainspec.conformance.report import (
    DTYPE_SHORT,
    SEVERITY,
    cells,
    error_text,
    explanation_lines,
    fmt_num,
    timings,
    unit_of,
    variant_glossary,
)

__all__ = ["render_html", "write_html"]

#: ratios below this are drawn at it (exact results, ratio 0, are counted apart)
RATIO_FLOOR = 1e-6
COLOURS = {"float64": "#1f77b4", "float32": "#ff7f0e", "float16": "#2ca02c", "bfloat16": "#d62728"}


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # smaller, same picture: no metadata, no indentation, coordinates to 0.1 pt
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r"\n\s+", "\n", text)
    return re.sub(
        r'( (?:d|x|y|transform|points)=")([^"]*)"',
        lambda m: m.group(1) + re.sub(r"(\d+\.\d)\d+", r"\1", m.group(2)) + '"',
        text,
    )


def _figure(width: float = 4.2, height: float = 2.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",
            "font.size": 8,
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans"],
            "svg.hashsalt": "trainspec",
        }
    )
    fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax


def ratio_histogram(rows: Sequence[dict[str, Any]]) -> str | None:
    r"""SVG: per dtype, the distribution of $\log_{10}(e/\tau)$ over the examples; None if no data.

    Exact examples (ratio 0) and non-finite ratios are counted in the legend, not drawn; the
    dashed line is the tolerance ($e/\tau = 1$).
    """
    data = [(r["dtype"], r.get("ratios") or []) for r in rows]
    data = [(d, rs) for d, rs in data if rs]
    if not data:
        return None
    import numpy as np

    fig, ax = _figure()
    finite = [x for _, rs in data for x in rs if x is not None and math.isfinite(x) and x > 0]
    lo = math.log10(max(RATIO_FLOOR, min(finite))) if finite else -6.0
    hi = max(1.0, math.log10(max(finite)) + 0.1) if finite else 1.0
    bins = np.linspace(min(lo, -1.0), hi, 30)
    for dtype, rs in data:
        arr = np.array([np.nan if x is None else x for x in rs], dtype=np.float64)
        zero = int(np.sum(arr == 0))
        bad = int(np.sum(~np.isfinite(arr)))
        pos = arr[np.isfinite(arr) & (arr > 0)]
        label = f"{DTYPE_SHORT.get(dtype, dtype)}: {len(arr)} ex, {zero} exact"
        if bad:
            label += f", {bad} NaN/inf"
        ax.hist(
            np.log10(np.maximum(pos, RATIO_FLOOR)),
            bins=bins,
            histtype="step",
            color=COLOURS.get(dtype, "k"),
            label=label,
        )
    ax.axvline(0.0, color="k", linestyle="--", linewidth=0.8)
    ax.set_xlabel("log10(error / tolerance) per example (dashed: tolerance)")
    ax.set_ylabel("examples")
    ax.legend(fontsize=6, frameon=False)
    return _svg(fig)


def series_plot(plot: dict[str, Any], reported: str | None) -> str | None:
    """SVG of a ``Row.plot`` curve or trajectory: the framework against the reference's variants."""
    if not plot or plot.get("type") not in ("curve", "trajectory"):
        return None
    import numpy as np

    fig, ax = _figure(4.6, 2.4)
    x = plot["x"]
    # the reported variant, the default form and two more at most: a legend people can read
    names = list(plot["reference"])
    first = list(dict.fromkeys(n for n in (reported, "default") if n in names))
    drawn = first + [n for n in names if n not in first][: max(0, 4 - len(first))]
    for name in drawn:
        ys = plot["reference"][name]
        bold = name == reported
        ax.plot(
            x[: len(ys)],
            ys,
            marker="o",
            markersize=6 if bold else 4,
            markerfacecolor="none",
            linewidth=1.6 if bold else 0.8,
            alpha=1.0 if bold else 0.6,
            label=f"reference {name}" + (" (reported)" if bold else ""),
        )
    fw = np.array([np.nan if v is None else v for v in plot["framework"]], dtype=np.float64)
    ax.plot(x[: len(fw)], fw, "k.", markersize=5, label="framework")
    nonfinite = [xi for xi, v in zip(x, fw, strict=False) if not math.isfinite(v)]
    if nonfinite:
        ax.set_title(f"framework NaN/inf at {plot['xlabel']} {nonfinite[:6]}", fontsize=7)
    ax.set_xlabel(plot.get("xlabel", ""))
    ax.set_ylabel(plot.get("ylabel", ""))
    more = len(names) - len(drawn)
    ax.legend(
        fontsize=6,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title=f"{more} more variants in report.json" if more else None,
        title_fontsize=6,
    )
    return _svg(fig)


def _variant_parts(
    spec: str, variant: str | None, glossary: dict[tuple[str, str], dict[str, str]]
) -> list[dict[str, str]]:
    if not variant or variant == "default":
        return []
    return [
        glossary.get((spec, p), {"name": p, "formula": "", "meaning": ""})
        for p in variant.split(", ")
    ]


def _context(report: dict[str, Any]) -> dict[str, Any]:
    results = report["results"]
    specs, backends, by_cell = cells(results)
    glossary = {(g["spec"], g["name"]): g for g in variant_glossary(results)}
    grid = []
    details: list[dict[str, Any]] = []
    for spec in specs:
        row_cells = []
        for b in backends:
            subs = []
            for impl, g in by_cell.get((spec, b), []):
                ident = f"d{len(details)}"
                checked = [r for r in g["rows"] if r["verdict"] != "not_offered"]
                ref_only = bool(g["rows"]) and all(
                    r.get("message", "").startswith("reference only") for r in g["rows"]
                )
                label = "reference only" if ref_only else impl if impl != "-" else "not offered"
                subs.append(
                    {
                        "id": ident,
                        "label": label,
                        "verdict": "reference" if ref_only else g["verdict"],
                        "pairs": " ".join(f"{r['dtype']}:{r['verdict']}" for r in g["rows"])
                        or "-:not_offered",
                        "badges": [
                            {"dtype": DTYPE_SHORT.get(r["dtype"], r["dtype"]), "v": r["verdict"]}
                            for r in checked
                        ],
                    }
                )
                rows = []
                for r in g["rows"]:
                    rows.append(
                        {
                            **r,
                            "error_text": error_text(r),
                            "parts": _variant_parts(spec, r.get("variant"), glossary),
                            "also": [
                                v for v in r.get("consistent_variants", []) if v != r.get("variant")
                            ],
                            "counterexample_json": json.dumps(r.get("counterexample"), indent=1)
                            if r.get("counterexample") is not None
                            else "",
                            "plot_svg": series_plot(r.get("plot") or {}, r.get("variant")),
                            "plot_note": (r.get("plot") or {}).get("why", ""),
                            "seconds_text": fmt_num(float(r.get("seconds") or 0.0)),
                            "explanation_text": "\n".join(explanation_lines(r)),
                        }
                    )
                details.append(
                    {
                        "id": ident,
                        "spec": spec,
                        "backend": b,
                        "impl": impl,
                        "unit": unit_of(spec),
                        "unclaimed": g["unclaimed"],
                        "rows": rows,
                        "histogram": ratio_histogram(checked),
                    }
                )
            row_cells.append({"backend": b, "subs": subs})
        grid.append({"spec": spec, "family": spec.split(".")[0], "cells": row_cells})
    counts = {v: sum(r["verdict"] == v for r in results) for v in SEVERITY}
    return {
        "report": report,
        "backends": backends,
        "families": sorted({s.split(".")[0] for s in specs}),
        "dtypes": [d for d in DTYPE_SHORT if d != "-"],
        "verdicts": list(SEVERITY),
        "grid": grid,
        "details": details,
        "timings": timings(report),
        "counts": counts,
        "glossary": list(glossary.values()),
    }


def render_html(report: dict[str, Any]) -> str:
    """The HTML page of ``report`` (a ``report.json`` dict) as a string."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trainspec.conformance", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    page: str = env.get_template("report.html.j2").render(**_context(report))
    return page


def write_html(report: dict[str, Any], path: str | Path) -> Path:
    """Write :func:`render_html` of ``report`` to ``path``; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(report), encoding="utf-8")
    return p
