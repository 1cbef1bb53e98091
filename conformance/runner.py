r"""From examples to verdicts: one row per (spec ID, backend, implementation, device, dtype).

How a verdict is measured, never written down
---------------------------------------------
Phase 1 (explore). Hypothesis generates examples for every check of the spec's kind (for
optimizers: one step from an arbitrary state, then trajectories with a changing learning rate).
Every example is run once on the framework and once per reference variant still alive; a
variant dies on the first example where it is out of tolerance.

* The default form alive at the end: ``conforms`` (other survivors are listed as consistent).
* Another variant alive: ``variant`` (the survivor nearest the default form is named).
* None alive: Phase 2 (shrink). Hypothesis replays the same search against the variant that
  came closest (smallest error/tolerance ratio where the last variants died) and shrinks the
  failure to a minimal counterexample: ``diverges``.
* The adapter raised: ``error``, with the exception; the run goes on with the next row.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from trainspec.conformance.adapter import Adapter, Implementation
from trainspec.conformance.checks import Comparison
from trainspec.conformance.kinds import REFERENCE_ONLY, get_kind
from trainspec.conformance.plots import plot_payload
from trainspec.conformance.profiles import PROFILES, hypothesis_settings
from trainspec.reference.registry import SpecEntry, Variant

__all__ = ["Row", "check_row", "plan_rows", "run_matrix"]

VERDICTS = ("conforms", "variant", "diverges", "not_offered", "error")


@dataclass
class Row:
    """One line of the report."""

    spec_id: str
    backend: str
    implementation: str
    device: str
    dtype: str
    verdict: str
    variant: str | None = None
    consistent_variants: list[str] = field(default_factory=list)
    max_error: float | None = None
    tolerance: float | None = None
    ratio: float | None = None
    counterexample: dict[str, Any] | None = None
    repro: str = ""
    examples: int = 0
    seconds: float = 0.0
    message: str = ""
    #: per example, error/tolerance of the reported variant (3 significant digits), for plots
    ratios: list[float] = field(default_factory=list)
    #: optional data a plot of the row needs (:mod:`trainspec.conformance.plots`), or None
    plot: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "spec_id": self.spec_id,
            "backend": self.backend,
            "implementation": self.implementation,
            "device": self.device,
            "dtype": self.dtype,
            "verdict": self.verdict,
            "variant": self.variant,
            "consistent_variants": self.consistent_variants,
            "max_error": self.max_error,
            "tolerance": self.tolerance,
            "ratio": self.ratio,
            "counterexample": self.counterexample,
            "repro": self.repro,
            "examples": self.examples,
            "seconds": round(self.seconds, 3),
            "message": self.message,
            "ratios": self.ratios,
            "plot": self.plot,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Row:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def repro_command(
    backend: str, spec_id: str, impl: str, dtype: str, device: str, profile: str, seed_: int
) -> str:
    return (
        f"trainspec run --backend {backend} --spec {spec_id} --impl '{impl}' --dtype {dtype} "
        f"--device {device} --profile {profile} --seed {seed_}"
    )


class _Explorer:
    """Phase 1 state: the variants still alive and the worst comparison seen for each."""

    def __init__(self, variants: Sequence[Variant]) -> None:
        self.alive: list[Variant] = list(variants)
        self.worst: dict[Variant, Comparison] = {}
        self.examples = 0
        self.closest: Variant | None = None  # set when the last variants die
        self.died_in: str | None = None
        self.error: BaseException | None = None
        self.error_case: Any = None
        self.ratios: dict[Variant, list[float]] = {}
        self.worst_case: dict[Variant, Any] = {}

    def record(self, per_variant: dict[Variant, Comparison], check: str, case: Any = None) -> None:
        self.examples += 1
        for v, c in per_variant.items():
            self.ratios.setdefault(v, []).append(float(f"{c.ratio:.3g}"))
            if v not in self.worst or c.ratio > self.worst[v].ratio:
                self.worst[v], self.worst_case[v] = c, case
        still = [v for v in self.alive if per_variant[v].passes]
        if not still and self.alive:
            self.closest = min(self.alive, key=lambda v: (per_variant[v].ratio, v.distance))
            self.died_in = check
        self.alive = still


def _draw_case(data: Any, entry: SpecEntry, dtype: str, check: str) -> Any:
    return get_kind(entry.kind).draw(data, entry, dtype, check)


def _evaluate(
    entry: SpecEntry,
    impl: Implementation,
    case: Any,
    dtype: str,
    device: str,
    variants: Sequence[Variant],
) -> dict[Variant, Comparison]:
    return get_kind(entry.kind).evaluate(entry, impl, case, dtype, device, variants)


def check_row(
    entry: SpecEntry,
    impl: Implementation,
    backend: str,
    dtype: str,
    device: str,
    *,
    profile: str = "ci",
    seed_: int = 0,
) -> Row:
    """Measure one row (see the module docstring). Never raises for a failing adapter."""
    if entry.kind == "defaults":
        return check_defaults_row(entry, impl, backend, device)
    t0 = time.perf_counter()
    repro = repro_command(backend, entry.id, impl.name, dtype, device, profile, seed_)
    row = Row(entry.id, backend, impl.name, device, dtype, "conforms", repro=repro)
    variants = list(entry.variants())
    explorer = _Explorer(variants)
    base = _kind_settings(entry, profile)

    def explore(check: str) -> Callable[[Any], None]:
        def body(data: Any) -> None:
            # Always draw, so that Hypothesis sees the same data generation on every call;
            # once the row is decided the framework is no longer run.
            case = _draw_case(data, entry, dtype, check)
            if not explorer.alive or explorer.error is not None:
                return
            try:
                per_variant = _evaluate(entry, impl, case, dtype, device, explorer.alive)
            except Exception as exc:  # the adapter (or framework) failed: report, go on
                explorer.error, explorer.error_case = exc, case
                return
            explorer.record(per_variant, check, case)

        return body

    for check in get_kind(entry.kind).checks:
        _run_given(explore(check), base, seed_)
        if explorer.error is not None or not explorer.alive:
            break

    row.examples = explorer.examples
    if explorer.error is not None:
        row.verdict = "error"
        row.message = _describe_error(explorer.error)
        row.counterexample = explorer.error_case.summary() if explorer.error_case else None
    elif explorer.alive:
        chosen = min(explorer.alive, key=lambda v: v.distance)
        row.verdict = "conforms" if chosen.is_default else "variant"
        row.variant = chosen.name
        row.consistent_variants = [v.name for v in explorer.alive]
        _fill_error(row, explorer.worst.get(chosen))
    else:
        closest = explorer.closest
        assert closest is not None and explorer.died_in is not None
        row.verdict = "diverges"
        row.variant = closest.name
        row.counterexample, comparison = _shrink(
            entry, impl, dtype, device, closest, explorer.died_in, base, seed_
        )
        _fill_error(row, comparison or explorer.worst.get(closest))
        row.message = f"no variant matches; closest is {closest.name!r}" + (
            f" (worst element in {comparison.where!r})" if comparison else ""
        )
        known = impl.finding(dtype)
        if known:
            row.message = f"finding: {known} | {row.message}"
    if row.variant is not None:
        reported = next(v for v in variants if v.name == row.variant)
        row.ratios = explorer.ratios.get(reported, [])
        row.plot = plot_payload(
            entry,
            impl,
            explorer.worst_case.get(reported),
            dtype,
            device,
            variants,
            verdict=row.verdict,
            reported=row.variant,
        )
    row.seconds = time.perf_counter() - t0
    return row


def check_defaults_row(
    entry: SpecEntry, impl: Implementation, backend: str, device: str = "cpu"
) -> Row:
    """``opt.defaults``: compare every claim about this backend with the framework's current defaults.

    The implementation's ``run(None, "-", device)`` returns ``{optimizer: {hyperparameter: value}}``
    read from the framework's public API. Drift is a finding: ``diverges`` with both values.
    """
    from trainspec.reference.defaults import compare_defaults

    t0 = time.perf_counter()
    repro = f"trainspec run --backend {backend} --spec {entry.id}"
    row = Row(entry.id, backend, impl.name, device, "-", "conforms", repro=repro)
    claims = entry.model.for_backend(backend)
    if not claims:
        row.verdict, row.message = "not_offered", f"no document states {backend}'s defaults"
        return row
    try:
        actual = impl.run(None, "-", device)
        drift, matches = compare_defaults(claims, actual)
    except Exception as exc:
        row.verdict, row.message = "error", _describe_error(exc)
        return row
    row.examples = len(claims)
    if drift:
        row.verdict = "diverges"
        row.counterexample = {"drift": drift, "matches": matches}
        row.message = "drift: " + "; ".join(
            f"{d['optimizer']}.{d['hyperparameter']} is {d['framework_value']}, "
            f"{d['author']} ({d['api']}) says {d['value']}"
            for d in drift
        )
    else:
        row.variant = "default"
    row.seconds = time.perf_counter() - t0
    return row


def _kind_settings(entry: SpecEntry, profile: str) -> settings:
    base = hypothesis_settings(profile)
    scale = get_kind(entry.kind).example_scale
    if scale == 1.0:
        return base
    return settings(base, max_examples=max(1, round(base.max_examples * scale)))


def _run_given(body: Callable[[Any], None], base: settings, seed_: int) -> None:
    test = seed(seed_)(settings(base)(given(st.data())(body)))
    test()


def _fill_error(row: Row, c: Comparison | None) -> None:
    if c is not None:
        row.max_error, row.tolerance, row.ratio = c.max_error, c.tolerance, c.ratio


def _describe_error(exc: BaseException) -> str:
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"{type(exc).__name__}: {exc}\n" + "".join(tb[-3:])


class _Mismatch(AssertionError):
    pass


def _shrink(
    entry: SpecEntry,
    impl: Implementation,
    dtype: str,
    device: str,
    variant: Variant,
    check: str,
    base: settings,
    seed_: int,
) -> tuple[dict[str, Any] | None, Comparison | None]:
    """Phase 2: let Hypothesis shrink a failure against ``variant``; return the minimal example."""
    last: dict[str, Any] = {}

    def body(data: Any) -> None:
        case = _draw_case(data, entry, dtype, check)
        c = _evaluate(entry, impl, case, dtype, device, [variant])[variant]
        if not c.passes:
            last["case"], last["comparison"] = case, c
            raise _Mismatch(
                f"{entry.id} vs variant {variant.name}: ratio {c.ratio:.3g} in {c.where}"
            )

    shrink_settings = settings(
        base, phases=[*base.phases], report_multiple_bugs=False, print_blob=False
    )
    try:
        _run_given(body, shrink_settings, seed_)
    except _Mismatch:
        pass
    except BaseException as exc:  # an exception during shrinking is itself worth reporting
        if "case" not in last:
            return {"error": _describe_error(exc)}, None
    if "case" not in last:
        return None, None
    case = last["case"]
    summary = {"check": check, **case.summary()}
    return summary, last["comparison"]


def plan_rows(
    entries: Iterable[SpecEntry],
    backend: str,
    adapter: Adapter,
    devices: Sequence[str],
    dtypes: Sequence[str],
    impl_filter: str | None = None,
) -> list[tuple[SpecEntry, Implementation | None, str, str, str]]:
    """Every (entry, implementation or None, device, dtype, reason) the run will produce a row for."""
    impls = adapter.implementations()
    available = set(adapter.devices())
    out: list[tuple[SpecEntry, Implementation | None, str, str, str]] = []
    for entry in entries:
        if entry.kind == REFERENCE_ONLY:
            for device in devices:
                out.append(
                    (entry, None, device, "-", "reference only: checked by the reference's tests")
                )
            continue
        mine = [
            i
            for i in impls
            if i.spec_id == entry.id and (impl_filter is None or i.name == impl_filter)
        ]
        for device in devices:
            if not mine:
                if impl_filter is None:
                    out.append(
                        (
                            entry,
                            None,
                            device,
                            "-",
                            f"{backend} offers no implementation of {entry.id}",
                        )
                    )
                continue
            for impl in mine:
                if entry.kind == "defaults":  # a property of the API, not of a dtype or device
                    if device == devices[0]:
                        out.append((entry, impl, device, "-", ""))
                    continue
                for dtype in dtypes:
                    if device not in available or device not in impl.devices:
                        out.append(
                            (entry, impl, device, dtype, f"no {device} device for {backend}")
                        )
                    elif dtype not in impl.dtypes:
                        out.append(
                            (entry, impl, device, dtype, f"{impl.name} does not offer {dtype}")
                        )
                    else:
                        out.append((entry, impl, device, dtype, ""))
    return out


def run_matrix(
    entries: Sequence[SpecEntry],
    adapters: dict[str, Adapter],
    *,
    devices: Sequence[str] = ("cpu",),
    dtypes: Sequence[str] = ("float32", "float64"),
    profile: str = "ci",
    seed_: int = 0,
    impl_filter: str | None = None,
    progress: Callable[[Row], None] | None = None,
) -> list[Row]:
    """Every row for every backend; a failing adapter becomes ``error`` rows and the run goes on."""
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r}: must be one of {list(PROFILES)}")
    rows: list[Row] = []
    for backend, adapter in adapters.items():
        try:
            plan = plan_rows(entries, backend, adapter, devices, dtypes, impl_filter)
        except Exception as exc:
            row = Row(
                "*", backend, "*", ",".join(devices), "*", "error", message=_describe_error(exc)
            )
            rows.append(row)
            if progress:
                progress(row)
            continue
        prepared: set[str] = set()
        for entry, impl, device, dtype, reason in plan:
            if reason:
                row = Row(
                    entry.id,
                    backend,
                    impl.name if impl else "-",
                    device,
                    dtype,
                    "not_offered",
                    message=reason,
                )
            else:
                assert impl is not None
                if device not in prepared:
                    adapter.prepare_device(device)
                    prepared.add(device)
                try:
                    row = check_row(
                        entry, impl, backend, dtype, device, profile=profile, seed_=seed_
                    )
                except Exception as exc:  # a kit bug must not hide the other rows either
                    row = Row(
                        entry.id,
                        backend,
                        impl.name,
                        device,
                        dtype,
                        "error",
                        message=_describe_error(exc),
                    )
                    row.repro = repro_command(
                        backend, entry.id, impl.name, dtype, device, profile, seed_
                    )
            rows.append(row)
            if progress:
                progress(row)
    return rows
