"""The spec in a terminal: LaTeX to Unicode text, and ``trainspec spec --id``."""

import re

import pytest

from trainspec import reference
from trainspec.conformance.cli import main
from trainspec.conformance.latex_text import is_code, to_text
from trainspec.conformance.spec_text import describe, formula_text, prose_text


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        (r"\hat m = \frac{m}{1-\beta_1^t}", "m̂ = m/(1−β₁ᵗ)"),
        (
            r"\theta \leftarrow \theta - \eta\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}",
            "θ ← θ − η m̂/(√v̂ + ε)",
        ),
        (r"\lVert g\rVert_2 = \sqrt{\textstyle\sum_i g_i^2}", "‖g‖₂ = √(Σᵢ gᵢ²)"),
        (r"\sigma^2 = 2/\text{fan}_\text{in}", "σ² = 2/fan_in"),
        (r"\frac1m\sum_{i=1}^m x_i", "1/m Σᵢ₌₁ᵐ xᵢ"),
        (r"w \sim \mathcal N(0, 2/n)", "w ~ 𝒩(0, 2/n)"),
        (r"x^{(l)}_{ji}", "x⁽ˡ⁾_ji"),
        (r"y = \begin{cases} 0, & z \le 0 \\ 1, & z > 0 \end{cases}", "y = { 0, z ≤ 0; 1, z > 0 }"),
        (r"\operatorname{Var}(w) \approx \tfrac{1}{2}", "Var(w) ≈ 1/2"),
        (r"\eta_t = \eta_0 \lfloor t/s \rfloor", "ηₜ = η₀ ⌊t/s⌋"),
    ],
)
def test_latex_to_text_by_hand(latex, text):
    assert to_text(latex, strict=True) == text


def test_unknown_commands_raise_in_strict_mode_and_are_named():
    with pytest.raises(ValueError, match=r"unknown LaTeX command \\frobnicate"):
        to_text(r"a \frobnicate b", strict=True)
    assert to_text(r"a \frobnicate b") == "a frobnicate b"
    with pytest.raises(TypeError, match="latex must be a str"):
        to_text(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="never ended"):
        to_text(r"\begin{cases} a", strict=True)


def test_code_as_printed_is_not_latex():
    assert is_code('he_init = tf.variance_scaling_initializer(mode = "FAN_AVG")')
    assert not is_code(r"b_1 = g_1")
    printed = "init = tf.truncated_normal((n_inputs, n_neurons), stddev=stddev)"
    assert formula_text(printed) == printed


def _formulas(entry):
    yield entry.formula
    for axis in entry.variant_axes:
        for option in axis.options:
            yield option.formula
    for er in entry.errata:
        yield er.printed
        yield er.correct
    for h in entry.hyperparameters:
        yield h.symbol


@pytest.mark.parametrize("entry", reference.all_entries(), ids=lambda e: e.id)
def test_every_formula_of_the_registry_renders_without_latex(entry):
    for f in _formulas(entry):
        text = f if is_code(f) else to_text(f, strict=True)
        assert "\\" not in text, (entry.id, f, text)


@pytest.mark.parametrize("entry", reference.all_entries(), ids=lambda e: e.id)
def test_describe_has_what_a_reader_needs(entry):
    text = describe(entry)
    assert "\\" not in text.replace("\\n", ""), entry.id
    assert entry.source and entry.source in text
    assert reference.SPEC_VERSION in text
    for c in entry.citations:
        assert c.text() in text
    for h in entry.hyperparameters:  # docs/adapters.md says `spec --id` lists them
        assert f"{h.name}: " in text and h.rule() in text
    for axis in entry.variant_axes:
        for option in axis.options:
            assert f"{axis.name}={option.name}" in text
            assert prose_text(option.description) in text
    for er in entry.errata:
        assert prose_text(er.explanation) in text


def test_spec_id_opt_adam_shows_citations_variant_meanings_and_source(capsys):
    assert main(["spec", "--id", "opt.adam"]) == 0
    out = capsys.readouterr().out
    assert "eps=eps_hat: epsilon added to the root of the uncorrected second moment" in out
    assert "D. P. Kingma, J. Ba (2015). Adam: A method for stochastic optimization, ICLR" in out
    assert "Neural Networks Tricks-Of-The-Trade" in out and "Adam Optimization" in out
    assert re.search(r"registered at reference/optimizers/adam\.py:\d+", out)
    assert "θ ← θ − η m̂/(√v̂ + ε)" in out
    assert "\\frac" not in out and "\\beta" not in out


def test_spec_with_an_unknown_id_names_the_argument(capsys):
    assert main(["spec", "--id", "opt.nope"]) == 2
    assert "--id" in capsys.readouterr().err


def test_every_entry_records_its_source_line():
    for e in reference.all_entries():
        path, _, line = e.source.rpartition(":")
        assert path.startswith("reference/") and path.endswith(".py"), e.source
        assert int(line) > 0
