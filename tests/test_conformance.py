"""The registry-driven conformance suite: one test per row of the matrix.

Run with ``pytest tests/test_conformance.py --backend torch`` (see the plugin in
``trainspec.conformance.pytest_plugin``). A row passes when the framework conforms or follows a
named variant; it fails with the counterexample and the replay command when it diverges or errs.
"""

import json

from trainspec.conformance.runner import check_row


def test_row(conformance_row, request):
    entry, impl, backend, adapter, device, dtype = conformance_row
    adapter.prepare_device(device)
    profile = request.config.getoption("--trainspec-profile")
    seed = request.config.getoption("--trainspec-seed")
    row = check_row(entry, impl, backend, dtype, device, profile=profile, seed_=seed)
    assert row.verdict in ("conforms", "variant"), (
        f"{row.verdict}: {row.message}\ncounterexample: {json.dumps(row.counterexample)[:3000]}\nreplay: {row.repro}"
    )
