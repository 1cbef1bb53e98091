r"""From examples to verdicts: one row per (spec ID, backend, implementation, device, dtype).

How a verdict is measured, never written down
---------------------------------------------
Phase 0 (witnesses). Before any random example, every check runs its witnesses
(:mod:`trainspec.conformance.witnesses`): the kind's boundary cases, the cases of a fixed pool
that separate each pair of variants (chosen from the reference alone), and the pool's cases in a
known finding's region; the same in every profile. They are recorded like drawn examples.

Phase 1 (explore). Hypothesis generates examples for every check of the spec's kind (for
optimizers: one step from an arbitrary state, then trajectories with a changing learning rate).
Every example is run once on the framework and once per reference variant still alive; a
variant dies on the first example where it is out of tolerance.

* More than one variant alive, some pair of them separable in the pool: a short targeted
  search (Hypothesis ``target()`` on the survivors' error/tolerance ratio, the same number of
  examples in every profile) tries to separate them.
* The default form alive at the end: ``conforms`` (other survivors are listed as consistent;
  those no pool case separates from it in the dtype are named ``indistinguishable``, with why).
* Another variant alive: ``variant`` (the survivor nearest the default form is named).
* None alive: Phase 2 (shrink). Hypothesis replays the same search against the variant that
  came closest (smallest error/tolerance ratio where the last variants died) and shrinks the
  failure to a minimal counterexample: ``diverges``.
* The adapter raised: ``error``, with the exception; the run goes on with the next row.
"""

from __future__ import annotations

import re
import shlex
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import Phase, given, seed, settings, target
from hypothesis import strategies as st

from trainspec.conformance import precision
from trainspec.conformance.adapter import Finding, Implementation
from trainspec.conformance.discovery import BUILTIN_BACKENDS
from trainspec.conformance.kinds import REFERENCE_ONLY, Kind, get_kind
from trainspec.conformance.plots import plot_payload
from trainspec.conformance.profiles import (
    PROFILES,
    hypothesis_settings,
    profiled,
    without_local_constants,
)
from trainspec.conformance.tolerance import Comparison, worse
from trainspec.conformance.witnesses import (
    WitnessPlan,
    finding_witnesses,
    fixed_witnesses,
    indistinguishable,
    witness_plan,
)
from trainspec.reference.registry import SpecEntry, Variant

__all__ = [
    "DEFAULT_TIMEOUT",
    "MatrixRun",
    "Row",
    "check_row",
    "plan_rows",
    "replay_command",
    "row_key",
    "run_matrix",
]

VERDICTS = ("conforms", "variant", "diverges", "not_offered", "error")

#: seconds one row may take before its worker is stopped and the row is an ``error``
#: (the slowest rows of the committed matrix take about 20 s on a loaded 2-core machine)
DEFAULT_TIMEOUT = 300.0

#: a row's identity: (spec ID, backend, implementation, device, dtype)
RowKey = tuple[str, str, str, str, str]


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
    #: the id of the implementation's known finding when this run found it (its region was hit
    #: and the framework departed from every variant there), else ``None``
    finding: str | None = None
    #: examples inside the finding's region where the framework departed from every variant
    finding_hits: int = 0
    #: hyperparameters the adapter pinned to a neutral value (``Implementation.pinned``)
    pinned: dict[str, Any] = field(default_factory=dict)
    #: what a whole-row kind read from the framework (defaults: ``{api: {hyperparameter: value}}``)
    values: dict[str, Any] | None = None
    detectable: dict[str, Any] | None = None  # statistical rows: what each test detects
    #: per example, error/tolerance of the reported variant (3 significant digits), for plots
    ratios: list[float] = field(default_factory=list)
    #: optional data a plot of the row needs (:mod:`trainspec.conformance.plots`), or None
    plot: dict[str, Any] | None = None
    #: why a ``variant`` or ``diverges`` row is what it is (:func:`explain_row`): the worst
    #: element of the reported variant and of the default form, and the example that eliminated
    #: each variant; not pinned by expectations
    explanation: dict[str, Any] | None = None
    #: ``{variant: reason}``: consistent variants that no candidate case separates from the
    #: reported one in this dtype (:mod:`trainspec.conformance.witnesses`)
    indistinguishable: dict[str, str] = field(default_factory=dict)
    #: examples run as witnesses (explicit separating and finding cases) before random search
    witnesses: int = 0

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
            "finding": self.finding,
            "finding_hits": self.finding_hits,
            "pinned": self.pinned,
            "values": self.values,
            "detectable": self.detectable,
            "ratios": self.ratios,
            "plot": self.plot,
            "explanation": self.explanation,
            "indistinguishable": self.indistinguishable,
            "witnesses": self.witnesses,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Row:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def replay_folder(backend: str, spec_id: str, impl: str, dtype: str, device: str) -> str:
    """The report folder of one row's replay: ``report/replay-<backend>-<spec>-<impl>-<dtype>-<device>``
    (the implementation's name with every run of characters a shell would quote made ``_``)."""
    slug = re.sub(r"[^\w@%+=,.-]+", "_", impl).strip("_") or "impl"
    return f"report/replay-{backend}-{spec_id}-{slug}-{dtype.strip('-') or 'any'}-{device}"


def replay_command(
    backend: str,
    spec_id: str,
    impl: str,
    dtype: str,
    device: str,
    profile: str,
    seed_: int,
    *,
    package: str = "",
) -> str:
    """The shell command that measures one row again, quoted with :func:`shlex.join`.

    It names where to run it: a built-in backend's tox environment (``tox exec -e torch --``),
    or for another adapter the package that provides it (a trailing comment), and writes to its
    own folder (:func:`replay_folder`, overwritten by the next replay of the same row)."""
    args = ["trainspec", "run", "--backend", backend, "--spec", spec_id, "--impl", impl]
    if dtype != "-":
        args += ["--dtype", dtype]
    args += ["--device", device, "--profile", profile, "--seed", str(seed_)]
    args += ["--report", replay_folder(backend, spec_id, impl, dtype, device), "--force"]
    cmd = shlex.join(args)
    if backend in BUILTIN_BACKENDS and package in ("", "trainspec"):
        return f"tox exec -e {backend} -- {cmd}"
    if package:
        return f"{cmd}  # in an environment with {package} installed"
    return cmd


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
        self.finding_hits = 0  # examples in a known finding's region that departed
        self.ratios: dict[Variant, list[float]] = {}
        self.worst_case: dict[Variant, Any] = {}
        #: per variant that died: the check, the example's number, its comparison and case
        self.killed: dict[Variant, tuple[str, int, Comparison, Any]] = {}
        #: the example where the last variants died, and the closest one's comparison there
        self.death: tuple[Any, Comparison] | None = None

    def record(
        self,
        per_variant: dict[Variant, Comparison],
        check: str,
        in_region: bool = False,
        case: Any = None,
    ) -> None:
        """Count one example; one inside a finding's region eliminates nothing (see
        :class:`~trainspec.conformance.adapter.Finding`): it is a hit when no variant matches.
        ``case`` is kept for the worst example of each variant (the report's plots)."""
        self.examples += 1
        if in_region:
            if not any(per_variant[v].passes for v in self.alive):
                self.finding_hits += 1
            return
        for v, c in per_variant.items():
            self.ratios.setdefault(v, []).append(float(f"{c.ratio:.3g}"))
            if v not in self.worst or c.ratio > self.worst[v].ratio:
                self.worst_case[v] = case
            self.worst[v] = worse(self.worst.get(v), c)
        still = [v for v in self.alive if per_variant[v].passes]
        for v in self.alive:
            if v not in still:
                self.killed[v] = (check, self.examples, per_variant[v], case)
        if not still and self.alive:
            self.closest = min(self.alive, key=lambda v: (per_variant[v].ratio, v.distance))
            self.died_in = check
            self.death = (case, per_variant[self.closest])
        self.alive = still


def _draw_case(data: Any, entry: SpecEntry, dtype: str, check: str) -> Any:
    draw = get_kind(entry.kind).draw
    assert draw is not None  # kinds without draw measure whole rows (check_row)
    return draw(data, entry, dtype, check)


def _evaluate(
    entry: SpecEntry,
    impl: Implementation,
    case: Any,
    dtype: str,
    device: str,
    variants: Sequence[Variant],
) -> dict[Variant, Comparison]:
    evaluate = get_kind(entry.kind).evaluate
    assert evaluate is not None  # kinds without evaluate measure whole rows (check_row)
    return evaluate(entry, impl, case, dtype, device, variants)


@profiled
def check_row(
    entry: SpecEntry,
    impl: Implementation,
    backend: str,
    dtype: str,
    device: str,
    *,
    profile: str = "ci",
    seed_: int = 0,
    package: str = "",
) -> Row:
    """Measure one row (see the module docstring). Never raises for a failing adapter; a
    ``KeyboardInterrupt`` is never caught. ``package`` (the adapter's package) goes into the
    replay command (:func:`replay_command`)."""
    kind = get_kind(entry.kind)
    repro = replay_command(
        backend,
        entry.id,
        impl.name,
        "-" if kind.measure_row else dtype,
        device,
        profile,
        seed_,
        package=package,
    )
    if kind.measure_row is not None:
        return _measured_row(kind, entry, impl, backend, device, repro)
    t0 = time.perf_counter()
    row = Row(entry.id, backend, impl.name, device, dtype, "conforms", repro=repro)
    row.pinned = _plain(dict(impl.pinned))
    known = impl.finding(dtype)
    region = known if known is not None and known.region is not None else None
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
            _try_example(entry, impl, case, dtype, device, check, explorer, region)

        return body

    plans: list[WitnessPlan | None] = []
    for check in get_kind(entry.kind).checks:
        plan = witness_plan(entry.id, dtype, check)
        plans.append(plan)
        cases = list(plan.cases) if plan is not None else fixed_witnesses(entry.id, dtype, check)
        if known is not None:
            cases += finding_witnesses(entry.id, dtype, check, known)
        for case in cases:  # the witnesses first, in every profile (see witnesses)
            if not explorer.alive or explorer.error is not None:
                break
            row.witnesses += 1
            _try_example(entry, impl, case, dtype, device, check, explorer, region)
        if explorer.error is not None or not explorer.alive:
            break
        _run_given(explore(check), base, seed_)
        if explorer.error is not None or not explorer.alive:
            break
    if explorer.error is None and len(explorer.alive) > 1 and any(plans):
        _targeted(entry, impl, dtype, device, explorer, region, plans, base, seed_)

    row.examples = explorer.examples
    internal = None  # the precision phase, when every variant of the row's precision died
    shrunk: Comparison | None = None  # the minimal counterexample's comparison (diverges)
    if explorer.error is None and not explorer.alive and precision.offered(kind, dtype):
        whole_row = known.examples if known is not None and region is None else ()
        internal = _explore_precision(
            entry, impl, dtype, device, variants, base, seed_, region, whole_row
        )
        row.examples += internal.examples
        if internal.error is not None or not internal.alive:
            internal = None
    if explorer.error is not None:
        row.verdict = "error"
        row.message = describe_error(explorer.error)
        row.counterexample = explorer.error_case.summary() if explorer.error_case else None
    elif explorer.alive or internal is not None:
        found = internal if internal is not None else explorer
        chosen = min(found.alive, key=lambda v: v.distance)
        row.verdict = "conforms" if chosen.is_default else "variant"
        row.variant = chosen.name
        row.consistent_variants = [v.name for v in found.alive]
        _fill_error(row, found.worst.get(chosen))
        if internal is not None:
            row.message = (
                f"no float64 variant matches; consistent with computing in float32 internally "
                f"({chosen.name}, tolerance at float32's unit roundoff, {internal.examples} "
                f"examples drawn exact in float32)"
            )
            if known is not None and region is None:  # a finding of the whole row
                row.finding = known.id
                row.message = f"finding: {known.text} | {row.message}"
        else:
            row.indistinguishable = indistinguishable(
                plans, chosen.name, row.consistent_variants, dtype
            )
            if row.indistinguishable:
                row.message = "; ".join(
                    f"{v!r} {why}" for v, why in sorted(row.indistinguishable.items())
                )
    else:
        closest = explorer.closest
        assert closest is not None and explorer.died_in is not None
        row.verdict = "diverges"
        row.variant = closest.name
        row.counterexample, comparison = _shrink(
            entry, impl, dtype, device, closest, explorer.died_in, base, seed_, region
        )
        if row.counterexample is None and explorer.death is not None:
            # the last variants died on a witness that random search does not meet again
            row.counterexample = {"check": explorer.died_in, **explorer.death[0].summary()}
            comparison = explorer.death[1]
        shrunk = comparison
        worst = comparison or explorer.worst.get(closest)
        _fill_error(row, worst)
        row.message = f"no variant matches; closest is {closest.name!r}" + (
            f" (worst element in {comparison.where!r})" if comparison else ""
        )
        if worst is not None:
            row.message += f": {worst.explain()}"
        if known is not None and region is None:  # a finding of the whole row
            row.finding = known.id
            row.message = f"finding: {known.text} | {row.message}"
    if region is not None and explorer.finding_hits:
        row.finding, row.finding_hits = region.id, explorer.finding_hits
        note = (
            f"finding {region.id} ({region.region_text}) hit in {explorer.finding_hits} "
            f"example(s): {region.text}"
        )
        row.message = f"{note} | {row.message}" if row.message else note
    if row.variant is not None:
        found = internal if internal is not None else explorer
        pool = [*variants, *(precision.with_precision(v) for v in variants)]
        reported = next(v for v in pool if v.name == row.variant)
        row.ratios = found.ratios.get(reported, [])
        row.explanation = explain_row(
            row.verdict, reported, variants, explorer, internal, shrunk=shrunk
        )
        row.plot = plot_payload(
            entry,
            impl,
            found.worst_case.get(reported),
            dtype,
            device,
            variants,
            verdict=row.verdict,
            reported=precision.base_variant(reported).name,
        )
    row.seconds = time.perf_counter() - t0
    return row


def _explore_precision(
    entry: SpecEntry,
    impl: Implementation,
    dtype: str,
    device: str,
    variants: Sequence[Variant],
    base: settings,
    seed_: int,
    region: Finding | None,
    first: Sequence[tuple[str, Any]] = (),
) -> _Explorer:
    """The precision phase (:mod:`trainspec.conformance.precision`): every variant computed in
    float32 internally, on examples drawn exact in float32, the framework run in ``dtype``.
    ``first``: ``(check, case)`` pairs run before the drawn ones (a whole-row finding's own
    counterexamples, which no float32 computation explains either)."""
    inner = "float32"
    wrapped = {precision.with_precision(v): v for v in variants}
    explorer = _Explorer(list(wrapped))
    framework = precision.running_in(impl, dtype)

    def attempt(check: str, case: Any) -> None:
        try:
            per = _evaluate(
                entry, framework, case, inner, device, [wrapped[v] for v in explorer.alive]
            )
        except Exception as exc:
            explorer.error, explorer.error_case = exc, case
            return
        per_variant = {v: per[wrapped[v]] for v in explorer.alive}
        explorer.record(per_variant, check, region is not None and region.in_region(case), case)

    def explore(check: str) -> Callable[[Any], None]:
        def body(data: Any) -> None:
            case = _draw_case(data, entry, inner, check)
            if not explorer.alive or explorer.error is not None:
                return
            attempt(check, case)

        return body

    for check, case in first:
        if not explorer.alive or explorer.error is not None:
            return explorer
        attempt(check, case)
    for check in get_kind(entry.kind).checks:
        _run_given(explore(check), base, seed_)
        if explorer.error is not None or not explorer.alive:
            break
    return explorer


#: how many of the variants that died nearest to passing keep their eliminating example
NEAREST_KEPT = 3


def explain_row(
    verdict: str,
    reported: Variant,
    variants: Sequence[Variant],
    explorer: _Explorer,
    internal: _Explorer | None = None,
    *,
    shrunk: Comparison | None = None,
) -> dict[str, Any] | None:
    r"""Why a ``variant`` or ``diverges`` row is what it is (``Row.explanation``; ``None`` for
    other verdicts): ``worst``, the reported variant's worst element (:meth:`Comparison.to_json`:
    the framework's and the reference's values there, the input where the kind states it);
    ``default``, the default form's own worst element (``shrunk``: the minimal counterexample's
    comparison, reported as ``worst`` in its stead); ``eliminated``, per variant that died
    (nearest to passing first), the check, the example's number and its ratio, with the worst
    element and the example itself for the ``NEAREST_KEPT`` nearest of a ``diverges`` row (a
    ``variant`` row keeps report.json small: its reported variant passed every example); ``summary``, one sentence."""
    if verdict not in ("variant", "diverges"):
        return None
    found = internal if internal is not None else explorer
    out: dict[str, Any] = {}
    worst = shrunk or found.worst.get(reported)
    if worst is not None:
        out["worst"] = {"variant": reported.name, **worst.to_json()}
    default = next((v for v in variants if v.is_default), None)
    if default is not None and default != reported and default in explorer.worst:
        out["default"] = {"variant": default.name, **explorer.worst[default].to_json()}
    killed = sorted(
        ((v, k) for e in (explorer, internal) if e is not None for v, k in e.killed.items()),
        key=lambda item: (item[1][2].ratio, item[0].distance),
    )
    eliminated = []
    for n, (v, (check, example, c, case)) in enumerate(killed):
        item: dict[str, Any] = {"variant": v.name, "check": check, "example": example}
        if verdict == "diverges" and n < NEAREST_KEPT:
            item.update(c.to_json())
            if case is not None and hasattr(case, "summary"):
                item["counterexample"] = _plain(case.summary())
        else:
            item.update(ratio=_plain(c.ratio), where=c.location)
        eliminated.append(item)
    out["eliminated"] = eliminated
    parts = []
    if default is not None and default != reported and default in explorer.killed:
        check, example, c, _ = explorer.killed[default]
        parts.append(
            f"the default form died in {check} example {example} (ratio {c.ratio:.3g} "
            f"at {c.location})"
        )
    if eliminated:
        near = eliminated[0]
        parts.append(
            f"{len(eliminated)} variant(s) eliminated, the nearest {near['variant']} "
            f"(ratio {_ratio_text(near)} in {near['check']} example {near['example']})"
        )
    if worst is not None and verdict == "diverges":
        parts.append(f"closest {reported.name} {worst.explain()}")
    out["summary"] = "; ".join(parts)
    return out


def _ratio_text(item: Mapping[str, Any]) -> str:
    """An eliminated variant's ratio for a sentence (``inf`` for a NaN or infinite error)."""
    r = item["ratio"]
    return f"{r:.3g}" if isinstance(r, float | int) else str(r)


def _measured_row(
    kind: Kind, entry: SpecEntry, impl: Implementation, backend: str, device: str, repro: str
) -> Row:
    """A row of a kind that measures whole rows (``Kind.measure_row``), e.g. ``defaults``."""
    assert kind.measure_row is not None
    t0 = time.perf_counter()
    row = Row(entry.id, backend, impl.name, device, "-", "conforms", repro=repro)
    row.pinned = _plain(dict(impl.pinned))
    try:
        m = kind.measure_row(entry, impl, backend, device)
    except Exception as exc:
        row.verdict, row.message = "error", describe_error(exc)
    else:
        row.verdict, row.variant, row.counterexample = m.verdict, m.variant, m.counterexample
        row.message, row.examples = m.message, m.examples
        row.values = None if m.values is None else _plain(m.values)
    row.seconds = time.perf_counter() - t0
    return row


def _plain(x: Any) -> Any:
    """``x`` as plain JSON (mappings, lists, numbers, strings, booleans, ``None``); a non-finite
    float or anything else is written as its ``repr``."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if x is None or isinstance(x, bool | str):
        return x
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return float(x) if np.isfinite(x) else repr(float(x))
    return repr(x)


def _kind_settings(entry: SpecEntry, profile: str) -> settings:
    base = hypothesis_settings(profile)
    scale = get_kind(entry.kind).example_scale
    if scale == 1.0:
        return base
    return settings(base, max_examples=max(1, round(base.max_examples * scale)))


def _try_example(
    entry: SpecEntry,
    impl: Implementation,
    case: Any,
    dtype: str,
    device: str,
    check: str,
    explorer: _Explorer,
    region: Finding | None,
) -> dict[Variant, Comparison] | None:
    """Run one example on the framework against the variants alive and record it; an exception
    of the adapter is recorded as the row's error."""
    try:
        per_variant = _evaluate(entry, impl, case, dtype, device, explorer.alive)
    except Exception as exc:  # the adapter (or framework) failed: report, go on
        explorer.error, explorer.error_case = exc, case
        return None
    explorer.record(per_variant, check, region is not None and region.in_region(case), case)
    return per_variant


#: examples per check of the targeted search (the same in every profile)
TARGET_EXAMPLES = 8


def _targeted(
    entry: SpecEntry,
    impl: Implementation,
    dtype: str,
    device: str,
    explorer: _Explorer,
    region: Finding | None,
    plans: Sequence[WitnessPlan | None],
    base: settings,
    seed_: int,
) -> None:
    r"""More than one variant survived: a short search steered by Hypothesis' ``target()``
    towards examples where a survivor's error/tolerance ratio is largest, run only where the
    witness pool says some surviving pair is separable in this dtype."""
    chosen = min(explorer.alive, key=lambda v: v.distance).name
    others = [v.name for v in explorer.alive]
    if set(indistinguishable(plans, chosen, others, dtype)) == set(others) - {chosen}:
        return
    steered = settings(
        base,
        max_examples=TARGET_EXAMPLES,
        derandomize=True,
        phases=[Phase.generate, Phase.target],
    )

    def steer(check: str) -> Callable[[Any], None]:
        def body(data: Any) -> None:
            case = _draw_case(data, entry, dtype, check)
            if len(explorer.alive) < 2 or explorer.error is not None:
                return
            if region is not None and region.in_region(case):
                return
            per = _try_example(entry, impl, case, dtype, device, check, explorer, region)
            if per:
                worst = max(c.ratio for c in per.values())
                target(float(min(worst, 1e6)) if np.isfinite(worst) else 1e6, label="ratio")

        return body

    for check in get_kind(entry.kind).checks:
        _run_given(steer(check), steered, seed_)
        if len(explorer.alive) < 2 or explorer.error is not None:
            return


def _run_given(body: Callable[[Any], None], base: settings, seed_: int) -> None:
    test = seed(seed_)(settings(base)(given(st.data())(body)))
    with without_local_constants():
        test()


def _fill_error(row: Row, c: Comparison | None) -> None:
    if c is not None:
        row.max_error, row.tolerance, row.ratio = c.max_error, c.tolerance, c.ratio
        row.detectable = {k: d.to_json() for k, d in c.detectable.items()} or None


def describe_error(exc: BaseException) -> str:
    """The exception's type and message, then the last frames of its traceback."""
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
    region: Finding | None = None,
) -> tuple[dict[str, Any] | None, Comparison | None]:
    """Phase 2: let Hypothesis shrink a failure against ``variant``; return the minimal example
    (never one inside the known finding's ``region``)."""
    last: dict[str, Any] = {}

    def body(data: Any) -> None:
        case = _draw_case(data, entry, dtype, check)
        if region is not None and region.in_region(case):
            return
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
    except Exception as exc:  # an exception during shrinking is itself worth reporting
        # (Exception, not BaseException: an interrupt must stop the run, not end the shrink)
        if "case" not in last:
            return {"error": describe_error(exc)}, None
    if "case" not in last:
        return None, None
    case = last["case"]
    summary = {"check": check, **case.summary()}
    return summary, last["comparison"]


#: a planned row: (entry, implementation or None, device, dtype, why it is not checked or "")
PlannedRow = tuple[SpecEntry, Any, str, str, str]


def plan_rows(
    entries: Iterable[SpecEntry],
    backend: str,
    adapter: Any,
    devices: Sequence[str],
    dtypes: Sequence[str],
    impl_filter: str | None = None,
) -> list[PlannedRow]:
    """Every (entry, implementation or None, device, dtype, reason) the run will produce a row for.

    ``adapter`` is an :class:`~trainspec.conformance.adapter.Adapter` or what a worker reports
    of one (:class:`~trainspec.conformance.worker.Manifest`): anything with ``implementations()``
    and ``devices()``."""
    impls = adapter.implementations()
    available = set(adapter.devices())
    out: list[PlannedRow] = []
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
                if get_kind(entry.kind).dtype_free:  # a property of the API, not of a dtype
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


def row_key(row: Row | dict[str, Any]) -> RowKey:
    """A row's identity: (spec ID, backend, implementation, device, dtype)."""
    d = row.to_json() if isinstance(row, Row) else row
    return (d["spec_id"], d["backend"], d["implementation"], d["device"], d["dtype"])


def run_matrix(
    entries: Sequence[SpecEntry],
    adapters: Mapping[str, Any],
    *,
    devices: Sequence[str] = ("cpu",),
    dtypes: Sequence[str] = ("float32", "float64"),
    profile: str = "ci",
    seed_: int = 0,
    impl_filter: str | None = None,
    progress: Callable[[Row], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jobs: int = 1,
) -> list[Row]:
    r"""Every row for every backend, in the plan's order; a failing adapter becomes ``error`` rows
    and the run goes on.

    ``adapters`` maps backend names to an :class:`~trainspec.conformance.adapter.Adapter`
    (checked in this process, without time limits: the kit's tests and the pytest plugin) or an
    :class:`~trainspec.conformance.discovery.AdapterRef` (checked in worker processes, each row
    within ``timeout`` seconds; see :class:`MatrixRun`)."""
    with MatrixRun(
        entries,
        adapters,
        devices=devices,
        dtypes=dtypes,
        profile=profile,
        seed_=seed_,
        impl_filter=impl_filter,
        timeout=timeout,
        jobs=jobs,
    ) as run:
        run.start()
        return run.run(on_row=progress)


class MatrixRun:
    r"""One conformance run: start every backend, plan its rows, measure them, in plan order.

    :meth:`start` loads every backend (in a worker process for an
    :class:`~trainspec.conformance.discovery.AdapterRef`) and returns what each reported
    (:class:`~trainspec.conformance.worker.Manifest`), so that a caller can refuse a run
    (an unknown ``--impl``, an absent device) before the first row. :meth:`run` measures every
    row not in ``done`` (rows of an earlier, interrupted run: the key of ``--resume``) and calls
    ``on_row`` as each finishes (in any order when ``jobs > 1``); it returns every row in the
    plan's order, so the result does not depend on ``jobs``, nor on where a run was resumed.
    ``shard=(i, n)`` keeps the plan's rows ``k`` with ``k mod n = i - 1`` (numbered over every
    backend in order), so ``n`` shards are disjoint and together are the whole plan.
    """

    def __init__(
        self,
        entries: Sequence[SpecEntry],
        adapters: Mapping[str, Any],
        *,
        devices: Sequence[str] = ("cpu",),
        dtypes: Sequence[str] = ("float32", "float64"),
        profile: str = "ci",
        seed_: int = 0,
        impl_filter: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        jobs: int = 1,
        hypothesis_dir: str | None = None,
        shard: tuple[int, int] | None = None,
        worker_memory: int | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"profile={profile!r}: must be one of {list(PROFILES)}")
        if not timeout > 0:
            raise ValueError(f"timeout={timeout!r}: must be a positive number of seconds")
        if jobs < 1:
            raise ValueError(f"jobs={jobs!r}: must be at least 1")
        if shard is not None and not 1 <= shard[0] <= shard[1]:
            raise ValueError(f"shard={shard!r}: must be (i, n) with 1 <= i <= n")
        from trainspec.conformance.worker import DEFAULT_WORKER_MEMORY, make_executor

        if worker_memory is not None and worker_memory <= 0:
            raise ValueError(f"worker_memory={worker_memory!r}: must be a positive number of bytes")

        self.entries, self.devices, self.dtypes = list(entries), list(devices), list(dtypes)
        self.profile, self.seed, self.impl_filter = profile, seed_, impl_filter
        self.timeout, self.jobs, self.shard = timeout, jobs, shard
        self.executors = {
            name: make_executor(
                name,
                a,
                devices=self.devices,
                timeout=timeout,
                jobs=jobs,
                hypothesis_dir=hypothesis_dir,
                memory_limit=worker_memory or DEFAULT_WORKER_MEMORY,
            )
            for name, a in adapters.items()
        }
        self.manifests: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}

    def __enter__(self) -> MatrixRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker process (also on an interrupt)."""
        for ex in self.executors.values():
            ex.close()

    def start(self) -> dict[str, Any]:
        """Load every backend; return what each reported (its manifest)."""
        for name, ex in self.executors.items():
            t0 = time.perf_counter()
            self.manifests[name] = ex.start()
            self.seconds[name] = time.perf_counter() - t0
        return self.manifests

    def backend_info(self) -> dict[str, dict[str, Any]]:
        """Per backend: ``status`` (``ok`` or what failed), ``versions``, ``seconds``, where its
        rows run (``environment``) and the package that provides its adapter; for rows measured
        in worker processes also the largest resident memory a worker reported after a row
        (``peak_worker_mib``) and how many workers were replaced for passing the memory limit
        (``workers_replaced_for_memory``)."""
        from trainspec.conformance.worker import WorkerExecutor

        out: dict[str, dict[str, Any]] = {}
        for name, m in self.manifests.items():
            ex = self.executors[name]
            out[name] = {
                "status": m.status,
                "versions": dict(m.versions),
                "seconds": round(self.seconds.get(name, 0.0), 2),
                "environment": ex.environment,
                "package": ex.package,
            }
            if isinstance(ex, WorkerExecutor) and ex.peak_resident:
                out[name]["peak_worker_mib"] = round(ex.peak_resident / 2**20)
                out[name]["workers_replaced_for_memory"] = ex.replaced_for_memory
        return out

    def plan(self, *, every_shard: bool = False) -> list[tuple[str, PlannedRow]]:
        """Every (backend, planned row) of this run, in order: this ``shard``'s rows, or with
        ``every_shard`` the whole plan that the shards split."""
        out: list[tuple[str, PlannedRow]] = []
        for name, m in self.manifests.items():
            if not m.loaded:
                continue
            if m.impls is None:  # implementations unknown: one row says why
                continue
            out += [
                (name, p)
                for p in plan_rows(
                    self.entries, name, m, self.devices, self.dtypes, self.impl_filter
                )
            ]
        if self.shard is not None and not every_shard:
            i, n = self.shard
            out = [p for k, p in enumerate(out) if k % n == i - 1]
        return out

    def planned_keys(self, *, every_shard: bool = False) -> set[RowKey]:
        """The keys of :meth:`plan`'s rows."""
        return {
            (p[0].id, name, p[1].name if p[1] else "-", p[2], p[3])
            for name, p in self.plan(every_shard=every_shard)
        }

    def run(
        self,
        *,
        done: Mapping[RowKey, Row] | None = None,
        on_row: Callable[[Row], None] | None = None,
    ) -> list[Row]:
        """Measure every planned row not in ``done``; every row in plan order (see the class)."""
        done = dict(done or {})
        results: list[Row | None] = []
        tasks: dict[str, list[tuple[int, PlannedRow]]] = {}

        def emit(i: int, row: Row) -> None:
            results[i] = row
            if on_row:
                on_row(row)

        for name, m in self.manifests.items():
            if m.loaded and m.impls is None and (self.shard is None or self.shard[0] == 1):
                results.append(None)
                row = Row("*", name, "*", ",".join(self.devices), "*", "error", message=m.status)
                emit(len(results) - 1, done.get(row_key(row), row))
        for name, planned in self.plan():
            entry, impl, device, dtype, reason = planned
            results.append(None)
            i = len(results) - 1
            key: RowKey = (entry.id, name, impl.name if impl else "-", device, dtype)
            if key in done:
                results[i] = done[key]
            elif reason:
                emit(i, Row(*key, "not_offered", message=reason))
            elif device in self.manifests[name].prepare_errors:
                row = Row(*key, "error", message=self.manifests[name].prepare_errors[device])
                row.repro = self._replay(name, entry, impl, dtype, device)
                emit(i, row)
            else:
                tasks.setdefault(name, []).append((i, planned))
        for name, todo in tasks.items():
            t0 = time.perf_counter()
            try:
                self.executors[name].run_all(
                    [(i, p[0].id, p[1].name, p[2], p[3]) for i, p in todo],
                    profile=self.profile,
                    seed_=self.seed,
                    on_row=emit,
                )
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
        return [r for r in results if r is not None]

    def _replay(self, backend: str, entry: SpecEntry, impl: Any, dtype: str, device: str) -> str:
        return replay_command(
            backend,
            entry.id,
            impl.name,
            dtype,
            device,
            self.profile,
            self.seed,
            package=self.executors[backend].package,
        )
