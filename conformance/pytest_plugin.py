"""The same checks as ``trainspec run``, as plain pytest tests.

Installed with trainspec (entry point ``pytest11``), this plugin adds ``--trainspec-backend``,
``--trainspec-device``, ``--trainspec-spec``, ``--trainspec-profile`` and ``--trainspec-seed``
(``--backend``, ``--device`` and ``--spec`` are deprecated aliases, kept for one release; they warn). Any test that takes the ``conformance_row`` argument is
parametrized with one (spec, backend, implementation, device, dtype) per row of the matrix, so::

    pytest tests/test_conformance.py --trainspec-backend torch

runs one test per row; a row that diverges or errs fails with its counterexample and the
command that replays it. Without ``--trainspec-backend`` every installed backend is used.

``--trainspec-expect FILE`` (an expectations file, ``trainspec lock``) gives tests the pins by
row key in the ``trainspec_expectations`` fixture, and in ``trainspec_expected_fields`` the
fields a row is compared on: every pinned field when the session's profile and seed are the
pins' own, the decisions only (verdict, variant, finding, values) at another profile or seed
(:func:`~trainspec.conformance.expectations.fields_compared`); a test that takes ``conformance_planned``
gets the keys of every row the session measures (to list pinned rows that are gone).

``--trainspec-isolate`` measures each row in a worker process of the backend (the executor of
``trainspec run``: :mod:`trainspec.conformance.worker`), with ``--trainspec-timeout`` seconds per
row: a framework that segfaults or hangs then fails its row's test (an ``error`` row that says
which) instead of ending the session, and the next row runs in a fresh worker. Without it, rows
are measured in the pytest process (faster to start; what trainspec's own tox runs). The
``trainspec_measure`` fixture is the measuring function either way.

Hypothesis keeps its files (the constants it collects from the code under test) in a folder of
pytest's cache (``.pytest_cache/d/trainspec-hypothesis``) for a session that checks rows, not in
the working directory; with the cache plugin off, in a temporary folder of the session; where
``HYPOTHESIS_STORAGE_DIRECTORY`` is set (trainspec's tox sets one per environment, so that
environments run in parallel never share it), there.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytest

#: deprecated spellings (no prefix; they can clash with other plugins) -> the prefixed option
DEPRECATED_ALIASES = {
    "--backend": "--trainspec-backend",
    "--device": "--trainspec-device",
    "--spec": "--trainspec-spec",
}


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("trainspec", "trainspec conformance")
    group.addoption(
        "--trainspec-backend",
        action="append",
        default=None,
        dest="trainspec_backend",
        help="backend to check (repeatable; default: every installed one)",
    )
    group.addoption(
        "--trainspec-device",
        default=None,
        choices=["cpu", "cuda"],
        dest="trainspec_device",
        help="device (default cpu)",
    )
    group.addoption(
        "--trainspec-spec", default=None, dest="trainspec_spec", help="spec ID or prefix"
    )
    group.addoption("--trainspec-profile", default="ci", help="quick, ci or thorough (default ci)")
    group.addoption("--trainspec-seed", default=0, type=int, help="seed (default 0)")
    group.addoption(
        "--trainspec-isolate",
        action="store_true",
        default=False,
        dest="trainspec_isolate",
        help="measure each row in a worker process (a crash or hang fails the row, not the session)",
    )
    group.addoption(
        "--trainspec-timeout",
        default=None,
        type=float,
        dest="trainspec_timeout",
        help="with --trainspec-isolate: seconds per row (default 300)",
    )
    group.addoption(
        "--trainspec-expect",
        default=None,
        dest="trainspec_expect",
        metavar="FILE",
        help="expectations file (trainspec lock): every row must match its pin",
    )
    for old, new in DEPRECATED_ALIASES.items():
        try:
            group.addoption(
                old,
                action="append" if old == "--backend" else "store",
                default=None,
                dest=f"trainspec_deprecated_{old[2:]}",
                help=f"deprecated alias of {new}",
            )
        except ValueError:  # another plugin owns that spelling: only the prefixed one is ours
            pass


def _option(config: Any, name: str) -> Any:
    """The value of ``--trainspec-<name>``, or of its deprecated alias (with a warning)."""
    value = config.getoption(f"trainspec_{name}", default=None)
    old = config.getoption(f"trainspec_deprecated_{name}", default=None)
    if old is not None:
        warnings.warn(
            f"--{name} is deprecated; use --trainspec-{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        if value is None:
            value = old
    return value


@pytest.fixture(scope="session")
def trainspec_expectations(request: Any) -> Any:
    """The pins of ``--trainspec-expect`` by row key (``None`` without the option)."""
    path = request.config.getoption("trainspec_expect", default=None)
    if path is None:
        return None
    from trainspec.conformance.expectations import load_pins

    try:
        return load_pins(path)[1]
    except ValueError as exc:
        raise pytest.UsageError(f"--trainspec-expect: {exc}") from None


@pytest.fixture(scope="session")
def trainspec_expected_fields(request: Any) -> tuple[str, ...]:
    """The pinned fields each row is compared on (module docstring)."""
    from trainspec.conformance.expectations import PIN_FIELDS, fields_compared, load_pins

    path = request.config.getoption("trainspec_expect", default=None)
    if path is None:
        return PIN_FIELDS
    try:
        doc = load_pins(path)[0]
    except ValueError as exc:
        raise pytest.UsageError(f"--trainspec-expect: {exc}") from None
    config = request.config
    return fields_compared(
        doc, config.getoption("--trainspec-profile"), config.getoption("--trainspec-seed")
    )


class _Isolated:
    """Rows measured in worker processes, one executor per (backend, device), started on first
    use and stopped at the end of the session."""

    def __init__(self, config: Any) -> None:
        from trainspec.conformance.runner import DEFAULT_TIMEOUT

        self.config = config
        timeout = config.getoption("trainspec_timeout", default=None)
        if timeout is not None and not timeout > 0:
            raise pytest.UsageError(f"--trainspec-timeout {timeout!r}: must be a positive number")
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.executors: dict[tuple[str, str], Any] = {}
        self.manifests: dict[tuple[str, str], Any] = {}

    def _executor(self, backend: str, device: str) -> Any:
        from trainspec.conformance import discovery
        from trainspec.conformance.worker import WorkerExecutor

        key = (backend, device)
        if key not in self.executors:
            refs, failures = discovery.resolve_backends([backend])
            if backend not in refs:
                raise pytest.UsageError(f"--trainspec-isolate: {failures.get(backend, backend)}")
            folder = os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY") or hypothesis_folder(
                self.config
            )
            executor = WorkerExecutor(
                refs[backend], [device], timeout=self.timeout, hypothesis_dir=folder
            )
            self.executors[key] = executor
            # what the worker found when it loaded the adapter and prepared the device
            self.manifests[key] = executor.start()
        return self.executors[key]

    def measure(
        self, entry: Any, impl: Any, backend: str, device: str, dtype: str, profile: str, seed: int
    ) -> Any:
        from trainspec.conformance.runner import Row

        executor = self._executor(backend, device)
        manifest = self.manifests[(backend, device)]
        failure = manifest.prepare_errors.get(device)
        if manifest.impls is None:
            failure = manifest.status
        if failure is not None:  # every row of the backend (or the device) is an error row
            return Row(entry.id, backend, impl.name, device, dtype, "error", message=failure)
        rows: list[Any] = []
        executor.run_all(
            [(0, entry.id, impl.name, device, dtype)],
            profile=profile,
            seed_=seed,
            on_row=lambda _, row: rows.append(row),
        )
        (row,) = rows
        return row

    def close(self) -> None:
        for executor in self.executors.values():
            try:
                executor.close()
            except Exception:  # stop every worker, whatever one of them did
                pass


@pytest.fixture(scope="session")
def trainspec_measure(request: Any) -> Any:
    """``measure(entry, impl, backend, adapter, device, dtype) -> Row`` at the session's profile
    and seed: in this process, or in a worker process with ``--trainspec-isolate``."""
    from trainspec.conformance.runner import check_row

    config = request.config
    profile = config.getoption("--trainspec-profile")
    seed = config.getoption("--trainspec-seed")
    if not config.getoption("trainspec_isolate", default=False):
        if config.getoption("trainspec_timeout", default=None) is not None:
            raise pytest.UsageError("--trainspec-timeout needs --trainspec-isolate")

        def in_process(
            entry: Any, impl: Any, backend: str, adapter: Any, device: str, dtype: str
        ) -> Any:
            adapter.prepare_device(device)
            return check_row(entry, impl, backend, dtype, device, profile=profile, seed_=seed)

        yield in_process
        return
    isolated = _Isolated(config)

    def in_worker(
        entry: Any, impl: Any, backend: str, adapter: Any, device: str, dtype: str
    ) -> Any:
        return isolated.measure(entry, impl, backend, device, dtype, profile, seed)

    try:
        yield in_worker
    finally:
        isolated.close()


def hypothesis_folder(config: Any) -> str:
    """Where a session that checks rows keeps Hypothesis's files (module docstring)."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return str(cache.mkdir("trainspec-hypothesis"))
    import tempfile

    return tempfile.mkdtemp(prefix="trainspec-hypothesis-")


def pytest_generate_tests(metafunc: Any) -> None:
    if "conformance_planned" in metafunc.fixturenames:
        metafunc.parametrize("conformance_planned", [_planned(metafunc.config)], ids=["plan"])
    if "conformance_row" not in metafunc.fixturenames:
        return
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        from hypothesis.configuration import set_hypothesis_home_dir

        set_hypothesis_home_dir(hypothesis_folder(metafunc.config))
    from trainspec import reference
    from trainspec.conformance import discovery
    from trainspec.conformance.adapter import DTYPES
    from trainspec.conformance.runner import plan_rows

    cfg = metafunc.config
    backends = _option(cfg, "backend")
    adapters, failures = discovery.load_adapters(backends)
    if backends and failures:
        raise pytest.UsageError(f"backends failed to load: {failures}")
    params = []
    for name, adapter in adapters.items():
        plan = plan_rows(
            reference.entries_matching(_option(cfg, "spec")),
            name,
            adapter,
            [_option(cfg, "device") or "cpu"],
            list(DTYPES),
        )
        for entry, impl, device, dtype, reason in plan:
            if reason or impl is None:
                continue
            params.append(
                pytest.param(
                    (entry, impl, name, adapter, device, dtype),
                    id=f"{entry.id}-{name}-{impl.name}-{device}-{dtype}",
                )
            )
    metafunc.parametrize("conformance_row", params)


def _planned(config: Any) -> dict[str, Any]:
    """What this session checks: the backends, the spec IDs, the device, and the key of every
    row it measures (for ``gone`` rows of ``--trainspec-expect``)."""
    from trainspec import reference
    from trainspec.conformance import discovery
    from trainspec.conformance.adapter import DTYPES
    from trainspec.conformance.runner import plan_rows

    adapters, _ = discovery.load_adapters(_option(config, "backend"))
    entries = reference.entries_matching(_option(config, "spec"))
    device = _option(config, "device") or "cpu"
    keys = set()
    for name, adapter in adapters.items():
        for entry, impl, dev, dtype, reason in plan_rows(
            entries, name, adapter, [device], list(DTYPES)
        ):
            if not reason and impl is not None:
                keys.add((entry.id, name, impl.name, dev, dtype))
    return {
        "backends": set(adapters),
        "spec_ids": {e.id for e in entries},
        "device": device,
        "keys": keys,
    }
