"""The same checks as ``trainspec run``, as plain pytest tests.

Installed with trainspec (entry point ``pytest11``), this plugin adds ``--backend``, ``--device``,
``--spec`` and ``--trainspec-profile``. Any test that takes the ``conformance_row`` argument is
parametrized with one (spec, backend, implementation, device, dtype) per row of the matrix, so::

    pytest tests/test_conformance.py --backend torch

runs one test per row; a row that diverges or errs fails with its counterexample and the
command that replays it. Without ``--backend`` every installed backend is used.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("trainspec", "trainspec conformance")
    group.addoption(
        "--backend", action="append", default=None, help="backend to check (repeatable)"
    )
    group.addoption("--device", default="cpu", choices=["cpu", "cuda"], help="device (default cpu)")
    group.addoption("--spec", default=None, help="spec ID or prefix (default: all)")
    group.addoption("--trainspec-profile", default="ci", help="quick, ci or thorough (default ci)")
    group.addoption("--trainspec-seed", default=0, type=int, help="seed (default 0)")


def pytest_generate_tests(metafunc: Any) -> None:
    if "conformance_row" not in metafunc.fixturenames:
        return
    from trainspec import reference
    from trainspec.conformance import discovery
    from trainspec.conformance.adapter import DTYPES
    from trainspec.conformance.runner import plan_rows

    cfg = metafunc.config
    adapters, failures = discovery.load_adapters(cfg.getoption("--backend"))
    if cfg.getoption("--backend") and failures:
        raise pytest.UsageError(f"backends failed to load: {failures}")
    params = []
    for name, adapter in adapters.items():
        plan = plan_rows(
            reference.entries_matching(cfg.getoption("--spec")),
            name,
            adapter,
            [cfg.getoption("--device")],
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
