r"""The spec as pages people can read and cite: one Markdown page per family, generated from the
registry and the committed report (``trainspec spec --site docs/spec``).

Every ID gets a stable anchor (``<a id="opt.adam">``, so ``docs/spec/opt.md#opt.adam``), its
formula as MathML (converted here, so the built site needs no script and no network), a table of
symbols and hyperparameters with their domains and the defaults the documents and frameworks
state, every variant with its formula, who states it and which framework implementations
follow it in the report (with the framework versions), the errata with what their executable
check shows, the citations with the place a reader finds each, the known findings with the
command that reproduces them, and a link to the lines that register it.

The pages are committed; ``tox -e docs`` regenerates them into a temporary folder, fails if
they differ from ``docs/spec``, and builds the site with ``mkdocs build --strict``.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from trainspec import reference
from trainspec.conformance.latex_text import is_code
from trainspec.conformance.spec_text import formula_text, prose_text, symbols
from trainspec.reference import SPEC_VERSION, SpecEntry

__all__ = ["FAMILIES", "family_of", "render_pages", "write_site"]

FAMILIES: dict[str, str] = {
    "opt": "Gradient descent and optimizers",
    "sched": "Learning-rate schedules and hyperparameter search",
    "norm": "Input normalisation and batch normalisation",
    "drop": "Dropout",
    "init": "Weight initialisation",
    "act": "Activation functions",
    "loss": "Losses",
    "reg": "Regularisation",
    "clip": "Gradient clipping",
    "train": "Training procedure",
}
# where a default claim of opt.defaults / act.defaults belongs, by the API's class or function
_DEFAULTS_OWNER = {
    "sgd": "opt.gd",
    "rmsprop": "opt.rmsprop",
    "adam": "opt.adam",
    "leaky_relu": "act.leaky_relu",
    "leakyrelu": "act.leaky_relu",
    "tf.nn.leaky_relu": "act.leaky_relu",
    "elu": "act.elu",
    "rrelu": "act.rrelu",
    "prelu": "act.prelu",
}
_VERDICT_ORDER = ("conforms", "variant", "diverges", "error", "not_offered")


def family_of(spec_id: str) -> str:
    """The family (page) of ``spec_id``: its first dotted part."""
    fam = spec_id.split(".")[0]
    if fam not in FAMILIES:
        raise ValueError(
            f"spec id {spec_id!r}: family {fam!r} has no page; families: {list(FAMILIES)}"
        )
    return fam


def _math(latex: str, display: bool = True) -> str:
    """``latex`` as MathML (a printed code line as code)."""
    from latex2mathml.converter import convert

    if is_code(latex):
        return "<pre><code>" + html.escape(latex) + "</code></pre>"
    mathml = convert(latex, display="block" if display else "inline")
    alt = html.escape(formula_text(latex), quote=True)
    return f'<div class="math" title="{alt}">{mathml}</div>'


def _cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`` " + text.replace("\n", " ") + " ``" if "`" in text else f"`{text}`"


def _variant_choices(entry: SpecEntry, name: str | None) -> dict[str, str]:
    """The option of every axis that the report's variant name ``name`` stands for."""
    chosen = {a.name: a.default for a in entry.variant_axes}
    if name and name != "default":
        for part in name.split(", "):
            axis, _, option = part.partition("=")
            if axis in chosen:
                chosen[axis] = option
    return chosen


def _impl_label(row: Mapping[str, Any], versions: Mapping[str, Mapping[str, str]]) -> str:
    vers = versions.get(row["backend"], {})
    impl = row["implementation"]
    framework = {"torch": "torch", "tensorflow": "keras", "jax": "optax"}.get(row["backend"], "")
    for prefix, name in (("flax", "flax"), ("jax.", "jax"), ("tf.", "tensorflow")):
        if impl.startswith(prefix) and name in vers:
            framework = name
    v = vers.get(framework)
    tag = f"{framework} {v}" if v else row["backend"]
    return f"{_code(impl)} ({tag})"


def _collapse(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows that differ only in dtype, as one row listing the dtypes."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        key = (r["backend"], r["implementation"], r["device"], r["verdict"], r["variant"] or "")
        if key not in groups:
            groups[key] = {**r, "dtypes": []}
        if r["dtype"] not in groups[key]["dtypes"]:
            groups[key]["dtypes"].append(r["dtype"])
    return sorted(
        groups.values(),
        key=lambda g: (g["backend"], g["implementation"], _VERDICT_ORDER.index(g["verdict"])),
    )


def _defaults_rows(
    entry_id: str, report: Mapping[str, Any]
) -> list[tuple[str, str, str, str, str, str]]:
    """(hyperparameter, value stated, who states it, API, framework's current value, verdict)
    for every default claim that belongs to ``entry_id``."""
    measured: dict[tuple[str, str, str], Any] = {}
    for row in report.get("results", ()):
        if row["spec_id"] in ("opt.defaults", "act.defaults") and row.get("counterexample"):
            for kind in ("drift", "matches"):
                for c in row["counterexample"].get(kind, ()):
                    measured[(c["api"], c["hyperparameter"], c["author"])] = (
                        c["framework_value"],
                        "drift" if kind == "drift" else "same",
                    )
    out = []
    for holder in ("opt.defaults", "act.defaults"):
        for claim in reference.get(holder).model.claims:
            owner = _DEFAULTS_OWNER.get(claim.optimizer.lower(), holder)
            if entry_id not in (holder, owner):
                continue
            value = "required" if claim.value is None else repr(claim.value)
            now, verdict = measured.get(
                (claim.api, claim.hyperparameter, claim.source.author), ("not measured", "")
            )
            out.append(
                (
                    claim.hyperparameter,
                    value,
                    f"{claim.source.author}, {claim.source.where}"
                    if claim.source.where
                    else claim.source.author,
                    claim.api,
                    str(now),
                    verdict,
                )
            )
    return out


def _corrected_text(ev: reference.ErratumEvidence) -> str:
    """The corrected formula's distance, in words that do not change with NumPy's summation
    order: within rounding it is stated as the bound, not as its last bits."""
    if ev.corrected_error <= ev.corrected_bound:
        return f"less than {ev.corrected_bound:.3g} (rounding only)"
    return f"{ev.corrected_error:.3g}"


def _citation_md(c: reference.Citation, depth: str) -> str:
    year = str(c.year) if c.year else "n.d."
    parts = [f"{c.author} ({year}). *{c.title}*"]
    if c.venue:
        parts.append(f", {c.venue}")
    parts.append(".")
    if c.where:
        parts.append(f" Where: {c.where}.")
    if c.document:
        name = Path(c.document).name
        parts.append(f" Text: [{name}]({depth}{c.document.removeprefix('docs/')}).")
    return "".join(parts)


def _entry_md(entry: SpecEntry, report: Mapping[str, Any]) -> list[str]:
    versions = {b: v.get("versions", {}) for b, v in report.get("backends", {}).items()}
    rows = [r for r in report.get("results", ()) if r["spec_id"] == entry.id]
    path, _, line = entry.source.rpartition(":")
    out = [
        f'<a id="{entry.id}"></a>',
        "",
        f"## {entry.id}: {entry.title}",
        "",
        f"Tier **{entry.tier}**, kind `{entry.kind}`, spec {SPEC_VERSION}. Registered at "
        f'<a href="../../{path}#L{line}"><code>{entry.source}</code></a>.',
        "",
        _math(entry.formula),
        "",
    ]
    syms = symbols(entry)
    if syms:
        out += ["**Symbols and hyperparameters**", "", "| symbol | meaning | domain |"]
        out += ["| --- | --- | --- |"]
        out += [f"| {_cell(formula_text(s))} | {_cell(m)} | {_cell(r)} |" for s, m, r in syms]
        out.append("")
    defaults = _defaults_rows(entry.id, report)
    if defaults:
        out += [
            "**Defaults the documents state, and the frameworks' current ones** "
            "(from the report; *drift* is a finding)",
            "",
            "| hyperparameter | stated | by | API | framework now | |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        out += [
            f"| {h} | {v} | {_cell(who)} | {_code(api)} | {now} | {verdict} |"
            for h, v, who, api, now, verdict in defaults
        ]
        out.append("")
    if entry.variant_axes:
        out += [
            "**Variants** (the first option of each axis is the spec's default form; *followed "
            "by* lists the implementations whose measured variant, in the committed report, "
            "takes that option)",
            "",
        ]
        followed: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r in _collapse(rr for rr in rows if rr["verdict"] in ("conforms", "variant")):
            label = _impl_label(r, versions)
            for axis_name, option in _variant_choices(entry, r["variant"]).items():
                if label not in followed[(axis_name, option)]:
                    followed[(axis_name, option)].append(label)
        for axis in entry.variant_axes:
            out.append(f"*Axis `{axis.name}`*")
            out.append("")
            for k, o in enumerate(axis.options):
                default = " (default)" if k == 0 else ""
                out.append(f"- `{axis.name}={o.name}`{default}: {prose_text(o.description)}.")
                out.append("")
                out.append("    " + _math(o.formula))
                out.append("")
                if o.stated_by:
                    out.append(f"    Stated by: {'; '.join(o.stated_by)}.")
                    out.append("")
                who = followed.get((axis.name, o.name))
                out.append(
                    f"    Followed by: {', '.join(who)}."
                    if who
                    else "    Followed by: none in the report."
                )
                out.append("")
    if entry.errata:
        out += ["**Errata**", ""]
        for er in entry.errata:
            ev = er.check()
            out += [
                f"- {_citation_md(er.source, '../')}",
                "",
                "    Printed:",
                "",
                "    " + _math(er.printed),
                "",
                "    Correct:",
                "",
                "    " + _math(er.correct),
                "",
                f"    {prose_text(er.explanation)}",
                "",
                f"    The executable check (`trainspec errata`) shows it: the printed formula is off "
                f"by {ev.printed_error:.3g}, the corrected one by {_corrected_text(ev)}; "
                f"{ev.detail}",
                "",
            ]
    out += ["**Citations**", ""]
    out += [f"- {_citation_md(c, '../')}" for c in entry.citations]
    out.append("")
    if rows:
        out += [
            "**Verdicts** (committed report: profile "
            f"{report.get('profile')}, seed {report.get('seed')}, devices "
            f"{', '.join(report.get('devices', []))})",
            "",
            "| backend | implementation | dtypes | verdict | variant |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in _collapse(rows):
            if r["verdict"] == "not_offered":
                continue
            out.append(
                f"| {r['backend']} | {_cell(_code(r['implementation']))} | "
                f"{', '.join(r['dtypes'])} | {r['verdict']} | {_cell(r['variant'] or '')} |"
            )
        offered = {r["backend"] for r in rows if r["verdict"] != "not_offered"}
        missing = sorted({r["backend"] for r in rows} - offered)
        if missing:
            out.append("")
            out.append(f"Not offered by: {', '.join(missing)}.")
        out.append("")
        findings = [r for r in _collapse(rows) if r["verdict"] in ("diverges", "error")]
        if findings:
            out += ["**Known findings**", ""]
            for r in findings:
                msg = (r["message"] or "").strip().splitlines()[0] if r["message"] else r["verdict"]
                out += [
                    f"- {r['backend']} {_code(r['implementation'])} ({', '.join(r['dtypes'])}): "
                    f"{_cell(msg)}",
                    "",
                    f"    Reproduce: {_code(r['repro'])}",
                    "",
                ]
    else:
        out += ["No framework row in the report: reference only (its property tests check it).", ""]
    if entry.notes:
        out += ["**Notes**", "", prose_text(entry.notes), ""]
    return out


def _index_md(entries: list[SpecEntry], report: Mapping[str, Any]) -> list[str]:
    versions = report.get("backends", {})
    out = [
        "# The trainspec spec",
        "",
        f"**Spec version {SPEC_VERSION}** ({len(entries)} IDs). Generated from the registry by "
        "`trainspec spec --site docs/spec`; do not edit by hand.",
        "",
        "Each ID below has a stable anchor: cite `docs/spec/<family>.md#<ID>` together with the "
        "spec version, for example *trainspec `opt.adam`, variant `eps=eps_hat`, spec "
        f"{SPEC_VERSION}*. See [How to cite](#how-to-cite).",
        "",
        "The verdicts on the pages come from the committed report "
        "([reports/cpu/report.md](../reports/cpu/report.md)), measured with "
        + ", ".join(
            f"{b} ({', '.join(f'{k} {v}' for k, v in sorted(info.get('versions', {}).items()))})"
            for b, info in sorted(versions.items())
        )
        + ".",
        "",
    ]
    for fam, title in FAMILIES.items():
        ids = [e for e in entries if family_of(e.id) == fam]
        out += [f"## [{title}]({fam}.md)", ""]
        out += [f"- [{e.id}]({fam}.md#{e.id}): {e.title}" for e in ids]
        out.append("")
    out += [
        "## Versions and stable IDs",
        "",
        "- The **spec version** (`trainspec.reference.SPEC_VERSION`, now "
        f"{SPEC_VERSION}) is independent of the package version. It is stated on every page "
        "and in every report (`spec_version` in `report.json`).",
        "- An **ID is stable**: it is never renamed, never removed and never reused for another "
        "formula. New IDs may be added (the inventory, `docs/inventory.md`, lists every one).",
        "- A change to what an ID computes (its formula, a variant's formula, which form is the "
        "default) **bumps the spec version** and is listed in the [changelog](changelog.md). "
        "Adding an ID, a variant or a citation bumps the minor part; changing an existing "
        "formula bumps the major part.",
        "- Variant names (`axis=option`) are stable in the same way: an option is never renamed "
        "or reused.",
        "",
        "## How to cite",
        "",
        "The project (see also `CITATION.cff` at the root of the repository):",
        "",
        "```bibtex",
        "@software{trainspec,",
        "  title   = {trainspec: an executable specification of neural-network training "
        "formulas and a conformance kit},",
        "  author  = {{trainspec developers}},",
        f"  version = {{spec {SPEC_VERSION}}},",
        "  year    = {2026},",
        "  note    = {Spec version " + SPEC_VERSION + "}",
        "}",
        "```",
        "",
        "One ID (here `opt.adam`, the variant Keras follows):",
        "",
        "```bibtex",
        "@misc{trainspec:opt.adam,",
        "  title        = {trainspec spec entry opt.adam (Adam), variant eps=eps\\_hat},",
        "  author       = {{trainspec developers}},",
        "  year         = {2026},",
        f"  note         = {{Spec version {SPEC_VERSION}; docs/spec/opt.md\\#opt.adam}},",
        "  howpublished = {trainspec, docs/spec/opt.md}",
        "}",
        "```",
        "",
    ]
    return out


def _changelog_md() -> list[str]:
    return [
        "# Spec changelog",
        "",
        "Every change to what an ID computes bumps the spec version and is listed here "
        "(see [Versions and stable IDs](index.md#versions-and-stable-ids)).",
        "",
        "## 0.1",
        "",
        f"- The first numbered version: {len(reference.all_entries())} IDs, every ID of the "
        "inventory (`docs/inventory.md`) plus `opt.adamw` and `act.defaults`.",
        "",
    ]


def render_pages(report: Mapping[str, Any]) -> dict[str, str]:
    """Every page, by file name: ``index.md``, ``changelog.md`` and one per family."""
    entries = reference.all_entries()
    pages = {"index.md": _index_md(entries, report), "changelog.md": _changelog_md()}
    for fam, title in FAMILIES.items():
        lines = [
            f"# {title}",
            "",
            f"Spec version {SPEC_VERSION}. Generated from the registry by "
            "`trainspec spec --site docs/spec`; do not edit by hand. "
            "[All families](index.md).",
            "",
        ]
        for e in entries:
            if family_of(e.id) == fam:
                lines += _entry_md(e, report)
        pages[f"{fam}.md"] = lines
    return {name: "\n".join(lines).rstrip("\n") + "\n" for name, lines in pages.items()}


def _default_report() -> Path:
    return Path("docs") / "reports" / "cpu" / "report.json"


def write_site(out_dir: str | Path, report_json: str | Path | None = None) -> list[Path]:
    """Write the pages into ``out_dir`` (created); returns their paths. ``report_json`` (default
    ``docs/reports/cpu/report.json`` under the current folder) gives the verdicts."""
    src = Path(report_json) if report_json is not None else _default_report()
    if not src.is_file():
        raise FileNotFoundError(
            f"report_json: no report at {src} (run from the repository root or pass --report-json)"
        )
    report = json.loads(src.read_text(encoding="utf-8"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_pages(report).items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    return written
