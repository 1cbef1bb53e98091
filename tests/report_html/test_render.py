"""report.html rendered without a browser: self-contained, one cell per spec x backend, plots."""

import re

from trainspec.conformance.html_report import ratio_histogram, render_html, series_plot
from trainspec.conformance.report import cells


def test_page_is_self_contained(small_report):
    page = render_html(small_report)
    # nothing is fetched: no external script, style, image or font
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script src" not in page and "<link" not in page


def test_one_cell_per_spec_and_backend(cpu_report):
    page = render_html(cpu_report)
    specs, backends, _ = cells(cpu_report["results"])
    assert page.count('<td class="cell"') == len(specs) * len(backends)


def test_plots_are_inline_svg(small_report):
    page = render_html(small_report)
    # the ratio histograms of the three implementations and the schedule curve
    assert page.count("<svg") == 4
    assert "framework NaN/inf at step [3]" in page
    assert "ratio inf (inf / 1e-07) non-finite result" in page


def test_histogram_counts_exact_and_nonfinite_examples():
    svg = ratio_histogram([{"dtype": "float32", "ratios": [0.0, 0.5, float("inf"), 2.0]}])
    assert svg is not None and "f32: 4 ex, 1 exact, 1 NaN/inf" in svg
    assert ratio_histogram([{"dtype": "float32", "ratios": []}]) is None
    assert series_plot({"type": "none", "why": "x"}, None) is None
