"""A real float64 path that rounds to float32: torch.optim.Adam(differentiable=True) keeps its
bias corrections in a float32 step tensor, and its float64 row is named for what it does."""

from trainspec import reference
from trainspec.adapters.torch_adapter.code_paths import implementations
from trainspec.conformance.runner import check_row


def test_adam_differentiable_float64_is_float32_internal_with_its_finding():
    impl = next(i for i in implementations() if i.name == "Adam(differentiable=True)")
    row = check_row(reference.get("opt.adam"), impl, "torch", "float64", "cpu", profile="quick")
    assert row.verdict == "variant" and row.variant == "precision=float32_internal", row
    assert row.finding == impl.finding("float64").id
    ex = row.explanation
    assert ex is not None and ex["default"]["ratio"] > 1 and ex["worst"]["ratio"] <= 1
    # the plain path computes in float64: no precision variant there
    plain = next(i for i in implementations() if i.name == "SGD(differentiable=True)")
    r = check_row(reference.get("opt.gd"), plain, "torch", "float64", "cpu", profile="quick")
    assert r.verdict == "conforms" and r.variant == "default", r
