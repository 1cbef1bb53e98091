"""report.md stays compact on a large matrix and drops no diverging row or finding."""

from trainspec.conformance.report import build_report, markdown
from trainspec.conformance.runner import Row

DTYPES = ("float64", "float32", "float16")


def _large() -> tuple[list[Row], list[Row], list[Row]]:
    """40 specs x 3 backends x 4 implementations x 3 dtypes: mostly conforming rows, one
    diverging implementation per spec on backend b0, one finding (a variant with hits) on b1."""
    conforming: list[Row] = []
    diverging: list[Row] = []
    found: list[Row] = []
    for s in range(40):
        spec = f"opt.s{s:02d}"
        for b in ("b0", "b1", "b2"):
            for i in range(4):
                impl = f"impl{i}[{b}]"
                for d in DTYPES:
                    if b == "b0" and i == 3:
                        r = Row(
                            spec, b, impl, "cpu", d, "diverges", variant="default",
                            ratio=3.0, max_error=3e-7, tolerance=1e-7, examples=2,
                            counterexample={"params": {"w0": s + 0.5}},
                            repro=f"trainspec run --spec {spec} --impl '{impl}' --dtype {d}",
                            message=f"no variant matches {spec}",
                        )  # fmt: skip
                        diverging.append(r)
                    elif b == "b1" and i == 2:
                        r = Row(
                            spec, b, impl, "cpu", d, "variant", variant="form=eta_outside",
                            ratio=0.5, max_error=1e-16, tolerance=2e-16, examples=80,
                            finding=f"finding-{spec}", finding_hits=3,
                        )  # fmt: skip
                        found.append(r)
                    else:
                        r = Row(
                            spec, b, impl, "cpu", d, "conforms", variant="default",
                            ratio=0.25, max_error=1e-16, tolerance=4e-16, examples=80,
                            seconds=0.5,
                        )  # fmt: skip
                        conforming.append(r)
    return conforming, diverging, found


def test_a_large_matrix_renders_in_one_line_per_cell_and_keeps_every_departure():
    conforming, diverging, found = _large()
    rows = conforming + diverging + found
    rep = build_report(rows, {b: {"status": "ok"} for b in ("b0", "b1", "b2")},
                       profile="ci", seed=0, devices=["cpu"])  # fmt: skip
    text = markdown(rep)
    lines = text.splitlines()
    # 1,440 rows; the old layout took a line per implementation (480) plus 8 per diverging one
    assert len(rows) == 1440
    assert len(lines) <= 400, len(lines)
    impl_lines = [ln for ln in lines if ln.startswith("| `opt.s") and " | b" in ln[:20]]
    # one line per (spec, backend) cell in the implementations table (the matrix has its own)
    table = lines[lines.index("## Implementations") :]
    cell_lines = [ln for ln in table if ln.startswith("| `opt.s")]
    assert len(cell_lines) == 40 * 3 and impl_lines
    # a conforming implementation is one summary, its dtypes collapsed
    b2 = next(ln for ln in cell_lines if ln.startswith("| `opt.s07` | b2 |"))
    assert b2.count("**conforms** f64/f32/f16, max ratio 0.25 (1e-16 / 4e-16), 240 ex") == 4
    assert "f32: **conforms**" not in b2
    # every diverging row keeps its counterexample block, replay and message
    for r in diverging:
        if r.dtype == "float64":  # one replay per implementation, naming the other dtypes
            assert f"replay: {r.repro}  (also --dtype float32, float16)" in text
        assert f"{r.spec_id} on b0 {r.implementation} (float64, float32, float16): diverges" in text
    assert text.count("<details><summary>") == 40
    # every finding is named, its dtypes that read alike in one entry with their hits summed
    for r in found:
        assert (
            f"f64/f32/f16: **variant** `form=eta_outside` (+ finding `finding-{r.spec_id}`, 9 ex)"
            in text
        )
    for s in range(40):
        b1 = next(ln for ln in cell_lines if ln.startswith(f"| `opt.s{s:02d}` | b1 |"))
        assert b1.count("(+ finding") == 1


def test_a_counterexample_block_has_no_blank_line_inside():
    r = Row(
        "opt.x", "a", "i", "cpu", "float32", "error", message="Traceback\n\n  boom\n",
        repro="trainspec run --spec opt.x",
    )  # fmt: skip
    rep = build_report([r], {"a": {"status": "ok"}}, profile="ci", seed=0, devices=["cpu"])
    lines = markdown(rep).splitlines()
    start = next(k for k, ln in enumerate(lines) if ln.startswith("<details>"))
    end = next(k for k, ln in enumerate(lines) if ln.endswith("</pre></details>"))
    assert all(ln.strip() for ln in lines[start : end + 1])
    assert "boom" in "\n".join(lines[start : end + 1])


def test_consistent_variants_read_as_their_undecided_axes():
    from trainspec.conformance.report import undecided_axes

    got = undecided_axes(
        "form=perceptron, nan_value=zero",
        [
            "form=perceptron, nan_value=value_at_zero",
            "form=perceptron, nan_value=zero, subnormals=flushed",
        ],
    )
    # form is decided (every variant agrees); an axis a name leaves out is at its default
    assert got == {"nan_value": ["zero", "value_at_zero"], "subnormals": ["default", "flushed"]}
    assert undecided_axes("default", []) == {}


def test_long_finding_texts_are_printed_once_under_a_label():
    from trainspec.conformance.report import finding_labels

    text = "Paddle's relu returns 0 for a NaN input. Reproduction: repro/relu_nan.py"
    labels = finding_labels([{"finding": text}, {"finding": "an-id"}, {"finding": text}])
    assert labels == {text: "F1"}  # an id is short: it is printed as it is


def test_a_row_measured_again_after_its_worker_died_says_so():
    note = (
        "some message | measured again in a fresh worker: the first worker died of SIGSEGV (a "
        "crash in native code) while measuring this row, after 59 other rows"
    )
    rows = [
        Row("opt.s", "b", "impl", "cpu", "float32", "conforms", variant="default", ratio=0.5,
            max_error=1e-16, tolerance=2e-16, examples=40, message=note),
        Row("opt.s", "b", "impl", "cpu", "float64", "conforms", variant="default", ratio=0.5,
            max_error=1e-16, tolerance=2e-16, examples=40),
    ]  # fmt: skip
    md = markdown(
        build_report(rows, {"b": {"status": "ok"}}, profile="ci", seed=0, devices=["cpu"])
    )
    lines = md.splitlines()
    table = lines[lines.index("## Implementations") :]
    line = next(ln for ln in table if "`impl`" in ln)
    assert "f32: **conforms**" in line and "f64: **conforms**" in line
    assert (
        "*measured again in a fresh worker (the first worker died of SIGSEGV (a crash in native "
        "code))*" in line
    )
