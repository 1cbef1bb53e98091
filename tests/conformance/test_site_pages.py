"""The committed spec pages (docs/spec) and the citations: every registered ID has its anchor,
formula, variants with formulas and citations a reader can find; and the repository stands alone."""

import re
from pathlib import Path

import pytest

from trainspec import reference
from trainspec.conformance.site import FAMILIES, family_of

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "spec"


def _section(spec_id: str) -> str:
    """The part of the family page from the ID's anchor to the next anchor."""
    page = (SPEC / f"{family_of(spec_id)}.md").read_text(encoding="utf-8")
    start = page.find(f'<a id="{spec_id}"></a>')
    assert start >= 0, f"docs/spec/{family_of(spec_id)}.md has no anchor for {spec_id}"
    end = page.find('<a id="', start + 1)
    return page[start : end if end >= 0 else len(page)]


def test_one_page_per_family_and_an_index():
    assert {p.name for p in SPEC.glob("*.md")} == {f"{f}.md" for f in FAMILIES} | {
        "index.md",
        "changelog.md",
    }
    index = (SPEC / "index.md").read_text(encoding="utf-8")
    for e in reference.all_entries():
        assert f"({family_of(e.id)}.md#{e.id})" in index, e.id
    assert f"Spec version {reference.SPEC_VERSION}" in index
    assert "@software{trainspec" in index and "@misc{trainspec:opt.adam" in index


@pytest.mark.parametrize("entry", reference.all_entries(), ids=lambda e: e.id)
def test_every_id_has_anchor_formula_variants_citations_and_source(entry):
    sec = _section(entry.id)
    assert f"## {entry.id}: " in sec
    assert f"spec {reference.SPEC_VERSION}" in sec
    assert sec.count('<div class="math"') >= 1 + sum(len(a.options) for a in entry.variant_axes)
    path, _, line = entry.source.rpartition(":")
    assert f'href="../../{path}#L{line}"' in sec
    for axis in entry.variant_axes:
        for option in axis.options:
            item = sec[sec.index(f"- `{axis.name}={option.name}`") :]
            assert item.split("\n- ", 1)[0].count('<div class="math"') >= 1, (
                axis.name,
                option.name,
            )
    for c in entry.citations:
        assert c.author in sec and c.title in sec
        if c.where:
            assert c.where in sec
    assert sec.count("The executable check (`trainspec errata`) shows it") == len(entry.errata)


def _places(where: str) -> list[str]:
    """The slide titles a ``where`` names: split at "; ", without a trailing parenthesis."""
    out = []
    for part in where.split("; "):
        out.append(re.sub(r"\s*\((?:[^()]|\([^()]*\))*\)\s*$", "", part).strip())
    return out


def _normal(text: str) -> str:
    return re.sub(r" :", ":", re.sub(r"\s+", " ", text.replace("\u2013", "-"))).lower()


def _all_citations(entry):
    yield from entry.citations
    for er in entry.errata:
        yield er.source
    for claim in getattr(entry.model, "claims", ()) or ():
        yield claim.source


@pytest.mark.parametrize("entry", reference.all_entries(), ids=lambda e: e.id)
def test_citations_are_complete_and_lecture_notes_are_findable(entry):
    for c in _all_citations(entry):
        assert c.author and c.title and c.venue, c
        assert re.search(r"seed|\b00[0-4]\b", c.text()) is None, c.text()
        if c.document:
            text = _normal((ROOT / c.document).read_text(encoding="utf-8"))
            assert c.where, f"{entry.id}: {c.author} cited without a slide"
            for place in _places(c.where):
                assert _normal(place) in text, f"{entry.id}: {place!r} is not in {c.document}"
        else:
            assert c.year, f"{entry.id}: {c.author} ({c.title}) has no year"
    assert any(c.where for c in entry.citations), f"{entry.id}: no citation says where"


_SKIP_DIRS = {".git", ".tox", "build", "dist", "site", "report", "__pycache__", ".hypothesis"}
_OUTSIDE = re.compile(
    r"\.\./shared|/work/|shared/(?:seeds|spec)|seed 00\d|\b00[0-4]_[0-9a-f]{16}\b|"
    r"(?<![\w.\d/-])\((?:00[0-4])\)|\bnotes? 00[0-4]\b|\b(?:Erratum|erratum) 00[0-4]\b"
)


def _repository_files():
    for p in ROOT.rglob("*"):
        rel = p.relative_to(ROOT)
        if any(
            part in _SKIP_DIRS or part.startswith(".venv") or part.endswith(".egg-info")
            for part in rel.parts
        ):
            continue
        if p.is_file() and p.suffix in {
            ".py",
            ".md",
            ".txt",
            ".toml",
            ".ini",
            ".cfg",
            ".cff",
            ".yml",
            ".yaml",
            ".json",
        }:
            yield p


def test_no_file_refers_outside_the_repository_or_to_internal_document_numbers():
    hits = []
    for p in _repository_files():
        text = p.read_text(encoding="utf-8", errors="replace")
        for m in _OUTSIDE.finditer(text):
            if (
                p.name == Path(__file__).name
                and "re.compile" in text[max(0, m.start() - 400) : m.start()]
            ):
                continue  # this test's own pattern
            hits.append(f"{p.relative_to(ROOT)}: {m.group(0)!r}")
    assert hits == []


def test_readme_links_stay_inside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if target.startswith(("http://", "https://")):
            continue
        assert not target.startswith(("/", "..")), target
        assert (ROOT / target).exists(), f"README links to {target}, which is not in the repository"
    assert "pip install 'trainspec[" not in readme
