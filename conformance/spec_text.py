r"""A spec entry as a reader sees it: ``trainspec spec --id ID`` in a terminal, and the symbols
table of the generated spec pages.

Formulas are written with :func:`~trainspec.conformance.latex_text.to_text` (Unicode, not raw
LaTeX); every variant is listed with its meaning, its formula and who states it; every erratum
with the printed and the correct formula; every citation with the place a reader finds it in; and
the file and line that register the entry.
"""

from __future__ import annotations

import re

from trainspec.conformance.latex_text import is_code, to_text
from trainspec.reference import SPEC_VERSION, SpecEntry

__all__ = ["GLOSSARY", "describe", "formula_text", "prose_text", "symbols"]

# Symbols whose meaning is fixed within a family; a symbol is listed for an entry when its
# formula uses it (the hyperparameters are listed from the entry itself).
GLOSSARY: dict[str, tuple[tuple[str, str], ...]] = {
    "opt": (
        (r"\theta", "the parameters"),
        ("g", "the gradient of the loss at θ"),
        ("t", "the step count, from 1"),
        ("m", "the first-moment (momentum) buffer"),
        ("v", "the velocity or second-moment buffer"),
        ("s", "the second-moment buffer"),
        ("b", "the momentum buffer with η outside"),
        ("G", "the sum of squared gradients"),
    ),
    "sched": (
        ("t", "the step (or epoch) count"),
        ("k", "the step (or epoch) count"),
        ("s", "the decay period in steps"),
    ),
    "norm": (
        ("x", "an input feature (one column of the batch)"),
        ("m", "the batch size"),
        (r"\mu_B", "the batch mean"),
        (r"\sigma", "the batch (or population) standard deviation"),
        (r"\hat x", "the normalised input"),
        ("y", "the output"),
    ),
    "drop": (
        ("x", "the input"),
        ("y", "the output"),
        ("m", "the mask, mᵢ ∈ {0, 1}"),
        ("q", "the keep probability"),
        ("p", "the probability the document names (keep or drop: a variant)"),
    ),
    "init": (
        ("w", "a weight"),
        (r"\text{fan}_\text{in}", "the number of inputs of a unit"),
        (r"\text{fan}_\text{out}", "the number of outputs of a unit"),
        (r"\text{fan}_\text{avg}", "(fan_in + fan_out)/2"),
    ),
    "act": (("z", "the pre-activation input"),),
    "loss": (("t", "the target"), ("y", "the prediction"), ("z", "the logits")),
    "reg": ((r"\theta", "the parameters"), ("J", "the total loss"), ("w", "a unit's weights")),
    "clip": (("g", "a gradient tensor"), ("K", "the threshold")),
    "train": (),
}


def formula_text(formula: str) -> str:
    """A formula of the registry as Unicode text (a printed code line is kept as printed)."""
    return formula if is_code(formula) else to_text(formula)


def prose_text(text: str) -> str:
    """A description or note; a LaTeX command in it (``\\alpha``) is written in Unicode."""
    return to_text(text) if "\\" in text else text


def _uses(formula: str, symbol: str) -> bool:
    if symbol.startswith("\\") or len(symbol) > 1:
        return symbol in formula
    return re.search(rf"(?<![\\A-Za-z]){re.escape(symbol)}(?![A-Za-z])", formula) is not None


def symbols(entry: SpecEntry) -> list[tuple[str, str, str]]:
    r"""The symbols of ``entry``'s formula: ``(LaTeX symbol, meaning, domain)``; the
    hyperparameters first (with the rule their values obey), then the family's fixed symbols
    that the formula uses."""
    out = [
        (h.symbol, f"{h.name}: {prose_text(h.description)}", h.rule())
        for h in entry.hyperparameters
    ]
    taken = {h.symbol for h in entry.hyperparameters}
    for sym, meaning in GLOSSARY.get(entry.id.split(".")[0], ()):
        if sym not in taken and _uses(entry.formula, sym):
            out.append((sym, meaning, ""))
            taken.add(sym)
    return out


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def describe(entry: SpecEntry) -> str:
    r"""``entry`` as plain text for a terminal: formula, symbols, variants with their meaning,
    errata, citations, notes and the source location; no raw LaTeX."""
    lines = [
        f"{entry.id}  [{entry.tier}]  {entry.title}",
        f"  spec {SPEC_VERSION}; registered at {entry.source or '(unknown)'}",
        "",
        "  formula:",
        _indent(formula_text(entry.formula), "    "),
    ]
    syms = symbols(entry)
    if syms:
        lines += ["", "  symbols and hyperparameters:"]
        for sym, meaning, rule in syms:
            lines.append(f"    {to_text(sym):<8} {meaning}" + (f" ({rule})" if rule else ""))
    if entry.variant_axes:
        lines += ["", "  variants (the first option of each axis is the spec's default form):"]
        for axis in entry.variant_axes:
            lines.append(f"    {axis.name}:")
            for k, o in enumerate(axis.options):
                default = " (default)" if k == 0 else ""
                lines.append(f"      {axis.name}={o.name}{default}: {prose_text(o.description)}")
                lines.append(f"          {formula_text(o.formula)}")
                if o.stated_by:
                    lines.append(f"          stated by: {'; '.join(o.stated_by)}")
    if entry.errata:
        lines += ["", "  errata:"]
        for er in entry.errata:
            lines.append(f"    {er.source.text()}")
            lines.append(_indent(f"prints:  {formula_text(er.printed)}", "      "))
            lines.append(_indent(f"correct: {formula_text(er.correct)}", "      "))
            lines.append(f"      why: {prose_text(er.explanation)}")
            lines.append(f"      check: trainspec errata (runs it: {entry.id})")
    lines += ["", "  citations:"]
    for c in entry.citations:
        lines.append(f"    {c.text()}" + (f"  [{c.document}]" if c.document else ""))
    if entry.notes:
        lines += ["", "  notes:", _indent(prose_text(entry.notes), "    ")]
    return "\n".join(lines)
