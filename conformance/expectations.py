r"""Pinned expectations: what each row of a report says about a framework, and every change of it.

A report's row is keyed by (spec, backend, implementation, device, dtype). Its *pin* is what a
re-run of the same framework version reproduces exactly (the ``ci`` profile is derandomized):

``verdict``
    ``conforms``, ``variant``, ``diverges``, ``error`` or ``not_offered``;
``variant``
    the named variant (for ``diverges``: the closest one);
``consistent_variants``
    the set of every variant still consistent with the framework (sorted);
``finding``
    the id of the known finding the run found (:class:`~trainspec.conformance.adapter.Finding`);
``values``
    for rows that read values from the framework (the defaults rows): every value read, so that
    a changed default is a change even in an API whose row already drifts.

Errors, counterexamples, error ratios and timings are not pinned: they depend on the machine
and on Hypothesis' version, not on what the framework computes.

Another profile or seed
-----------------------
``consistent_variants`` is exact only for the examples the pins were measured with: another
profile or seed draws other examples, which may eliminate more or fewer of the variants a row
cannot tell apart. The *decisions* do not depend on them: the witnesses (separating examples and
boundary cases, the same in every profile) decide the verdict, the variant and the finding, so a
run at ``quick`` (10 examples) must reach the pins measured at ``ci`` (40). :func:`fields_compared`
says which fields a run is compared on: every pinned field at the pins' own profile and seed,
:data:`DECISION_FIELDS` otherwise. ``tox`` runs each backend's suite at ``quick`` against the
``ci`` pins as well (issue 13: the quick profile decides every row as ``ci`` does).

:func:`lock` turns a report into an expectations document; :func:`compare` lists, between two
sets of pins, every row that is ``changed`` (each field with old :math:`\to` new), ``new`` (not
pinned) or ``gone`` (pinned, no longer produced); :func:`summary` prints them. ``trainspec lock``,
``trainspec run --expect``, ``trainspec diff`` and the pytest plugin's ``--trainspec-expect`` are
built on these.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DECISION_FIELDS",
    "KEY_FIELDS",
    "PIN_FIELDS",
    "Change",
    "RowKey",
    "compare",
    "compare_row",
    "fields_compared",
    "format_key",
    "load_pins",
    "lock",
    "pin_of",
    "pins_of_report",
    "row_key",
    "summary",
]

#: the fields that identify a row
KEY_FIELDS = ("spec_id", "backend", "implementation", "device", "dtype")
#: the fields an expectation pins (``values`` only where the row has them)
PIN_FIELDS = ("verdict", "variant", "consistent_variants", "finding", "values")
#: the pinned fields that do not depend on which examples were drawn (module docstring)
DECISION_FIELDS = ("verdict", "variant", "finding", "values")
#: the format of an expectations document (``"trainspec_expectations"``)
FORMAT = 1

RowKey = tuple[str, str, str, str, str]


def row_key(row: Mapping[str, Any]) -> RowKey:
    """The identity of a row: (spec, backend, implementation, device, dtype)."""
    missing = [k for k in KEY_FIELDS if k not in row]
    if missing:
        raise ValueError(f"row: must have the key fields {list(KEY_FIELDS)}; missing {missing}")
    return tuple(str(row[k]) for k in KEY_FIELDS)  # type: ignore[return-value]


def format_key(key: RowKey) -> str:
    """``spec backend implementation device dtype``, as a person reads a row."""
    spec, backend, impl, device, dtype = key
    return f"{spec} {backend} {impl!r} {device} {dtype}"


def pin_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a row pins (see the module docstring); ``values`` only where the row has them."""
    verdict = row.get("verdict")
    if not isinstance(verdict, str):
        raise ValueError(f"row {row_key(row)}: verdict must be a string, got {verdict!r}")
    pin: dict[str, Any] = {
        "verdict": verdict,
        "variant": row.get("variant"),
        "consistent_variants": sorted(row.get("consistent_variants") or []),
        "finding": row.get("finding"),
    }
    if row.get("values") is not None:
        pin["values"] = row["values"]
    return pin


def pins_of_report(report: Mapping[str, Any]) -> dict[RowKey, dict[str, Any]]:
    """Every row's pin, by key: from a report (``results``) or an expectations document
    (``rows``)."""
    if "results" in report:
        rows = report["results"]
    elif "rows" in report:
        rows = report["rows"]
    else:
        raise ValueError(
            "report: must be a trainspec report.json (with 'results') or an expectations file "
            "(with 'rows')"
        )
    return {row_key(r): pin_of(r) for r in rows}


def lock(report: Mapping[str, Any], *, backends: Iterable[str] | None = None) -> dict[str, Any]:
    """An expectations document pinning every row of ``report`` (only ``backends``' rows, when
    given), sorted by key, with the versions, profile and seed the pins were measured with."""
    wanted = None if backends is None else set(backends)
    pins = pins_of_report(report)
    rows = [
        {**dict(zip(KEY_FIELDS, key, strict=True)), **pins[key]}
        for key in sorted(pins)
        if wanted is None or key[1] in wanted
    ]
    versions = {
        name: b.get("versions", {})
        for name, b in report.get("backends", {}).items()
        if wanted is None or name in wanted
    }
    return {
        "trainspec_expectations": FORMAT,
        "profile": report.get("profile"),
        "seed": report.get("seed"),
        "versions": versions,
        "rows": rows,
    }


def load_pins(path: str | Path) -> tuple[dict[str, Any], dict[RowKey, dict[str, Any]]]:
    """Read an expectations file (or a report.json): (its document, its pins by key)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except OSError as exc:
        raise ValueError(f"expectations file {str(p)!r}: cannot read it: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"expectations file {str(p)!r}: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"expectations file {str(p)!r}: must hold a JSON object")
    return doc, pins_of_report(doc)


@dataclass(frozen=True)
class Change:
    """One row that differs: ``status`` is ``changed``, ``new`` or ``gone``; ``fields`` maps each
    changed field (``values`` per ``api.hyperparameter``) to (old, new)."""

    status: str
    key: RowKey
    fields: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    old: Mapping[str, Any] | None = None
    new: Mapping[str, Any] | None = None

    def text(self) -> str:
        head = f"{self.status:<7} {format_key(self.key)}"
        if self.status == "new":
            return f"{head}: {_verdict_text(self.new)} (not pinned)"
        if self.status == "gone":
            return f"{head}: pinned {_verdict_text(self.old)}, no longer produced"
        parts = [f"{name}: {_show(a)} -> {_show(b)}" for name, (a, b) in self.fields.items()]
        return f"{head}: " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            **dict(zip(KEY_FIELDS, self.key, strict=True)),
            "fields": {k: {"old": a, "new": b} for k, (a, b) in self.fields.items()},
        }


def _verdict_text(pin: Mapping[str, Any] | None) -> str:
    if not pin:
        return "?"
    out = str(pin.get("verdict"))
    if pin.get("variant"):
        out += f" {pin['variant']}"
    if pin.get("finding"):
        out += f" (+ finding {pin['finding']})"
    return out


def _show(v: Any) -> str:
    if v is _ABSENT:
        return "absent"
    return json.dumps(v) if not isinstance(v, str) else v


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT: Any = _Absent()


def _flat_values(values: Any) -> dict[str, Any]:
    """``{api: {hp: v}}`` -> ``{"values[api.hp]": v}`` (so that each default is its own field)."""
    out: dict[str, Any] = {}
    if isinstance(values, Mapping):
        for api, hps in values.items():
            if isinstance(hps, Mapping):
                for hp, v in hps.items():
                    out[f"values[{api}.{hp}]"] = v
            else:
                out[f"values[{api}]"] = hps
    return out


def fields_compared(
    pinned: Mapping[str, Any], profile: str | None, seed: int | None
) -> tuple[str, ...]:
    """The fields a run at ``profile`` and ``seed`` is compared on against the expectations
    document ``pinned``: :data:`PIN_FIELDS` at the document's own profile and seed (or where it
    records none), :data:`DECISION_FIELDS` at any other (module docstring)."""
    p, s = pinned.get("profile"), pinned.get("seed")
    if (p is None or p == profile) and (s is None or seed is None or s == seed):
        return PIN_FIELDS
    return DECISION_FIELDS


def compare_row(
    old: Mapping[str, Any], new: Mapping[str, Any], fields: Iterable[str] = PIN_FIELDS
) -> dict[str, tuple[Any, Any]]:
    """The fields where two pins differ, each as (old, new); ``{}`` when they agree. Only
    ``fields`` (of :data:`PIN_FIELDS`) are compared."""
    fields = tuple(fields)
    unknown = set(fields) - set(PIN_FIELDS)
    if unknown:
        raise ValueError(f"fields: {sorted(unknown)} are not pinned; must be among {PIN_FIELDS}")
    out: dict[str, tuple[Any, Any]] = {}
    for name in ("verdict", "variant", "consistent_variants", "finding"):
        if name not in fields:
            continue
        a, b = old.get(name), new.get(name)
        if name == "consistent_variants":
            a, b = sorted(a or []), sorted(b or [])
        if a != b:
            out[name] = (a, b)
    if "values" not in fields:
        return out
    va, vb = _flat_values(old.get("values")), _flat_values(new.get("values"))
    for name in sorted(set(va) | set(vb)):
        a, b = va.get(name, _ABSENT), vb.get(name, _ABSENT)
        if a is _ABSENT or b is _ABSENT or not _same_value(a, b):
            out[name] = (a, b)
    return out


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (type(a) is type(b) and a == b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def compare(
    old: Mapping[RowKey, Mapping[str, Any]],
    new: Mapping[RowKey, Mapping[str, Any]],
    *,
    in_scope: Callable[[RowKey], bool] | None = None,
    fields: Iterable[str] = PIN_FIELDS,
) -> list[Change]:
    """Every row that is ``changed``, ``new`` or ``gone`` from ``old`` to ``new``, by key.

    ``in_scope(key)`` limits ``gone`` to the rows the new run was asked to produce (a run of one
    backend or one spec does not make the others gone); rows in ``new`` are always compared, on
    ``fields`` (:func:`fields_compared`).
    """
    fields = tuple(fields)
    out: list[Change] = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            if in_scope is None or in_scope(key):
                out.append(Change("gone", key, old=old[key]))
        elif key not in old:
            out.append(Change("new", key, new=new[key]))
        else:
            diff = compare_row(old[key], new[key], fields)
            if diff:
                out.append(Change("changed", key, diff, old[key], new[key]))
    return out


def summary(changes: Iterable[Change], compared: int) -> str:
    """A few lines: the counts, then one line per changed, new and gone row."""
    changes = list(changes)
    counts = {s: sum(c.status == s for c in changes) for s in ("changed", "new", "gone")}
    same = compared - counts["changed"] - counts["new"]
    head = (
        f"expectations: {compared} row(s) compared, {same} as pinned, {counts['changed']} "
        f"changed, {counts['new']} new, {counts['gone']} gone"
    )
    return "\n".join([head, *("  " + c.text() for c in changes)])
