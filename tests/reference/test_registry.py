from pathlib import Path

import pytest

from trainspec import reference
from trainspec.reference.registry import Citation, SpecEntry, VariantAxis, VariantOption, register

INVENTORY = Path(__file__).resolve().parents[2] / "docs" / "inventory.md"


def inventory_ids(text: str) -> set[str]:
    """The IDs of the inventory: the first cell of every table row whose second is a tier."""
    ids = set()
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[1] in ("core", "doc"):
            ids.add(cells[0])
    return ids


INVENTORY_IDS = inventory_ids(INVENTORY.read_text(encoding="utf-8"))


def test_the_inventory_parses_to_its_tables():
    assert len(INVENTORY_IDS) == 65
    assert {"opt.adam", "norm.batch.train", "train.backprop", "opt.adamw"} <= INVENTORY_IDS


def test_every_registered_id_is_in_the_inventory_and_back():
    ids = {e.id for e in reference.all_entries()}
    assert ids - INVENTORY_IDS == set(), "registered but not in docs/inventory.md"
    assert INVENTORY_IDS - ids == set(), "in docs/inventory.md but not registered"


def test_inventory_tiers_match_the_registry():
    for line in INVENTORY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[1] in ("core", "doc"):
            assert reference.get(cells[0]).tier == cells[1], cells[0]


@pytest.mark.parametrize("entry", reference.all_entries(), ids=lambda e: e.id)
def test_every_entry_is_citable(entry):
    assert entry.title and entry.formula
    # at least one lecture note (a document in docs/sources/) and one original source
    notes = [c for c in entry.citations if c.document]
    papers = [c for c in entry.citations if c.year and not c.document]
    assert notes, f"{entry.id} cites no lecture note"
    assert papers, f"{entry.id} cites no original paper"
    for axis in entry.variant_axes:
        for option in axis.options:
            assert option.formula and option.description and option.stated_by


@pytest.mark.parametrize("entry", reference.all_entries(), ids=lambda e: e.id)
def test_variants_start_with_the_default_and_are_unique(entry):
    vs = list(entry.variants())
    assert vs[0].is_default and vs[0].name == "default"
    assert len({v.choices for v in vs}) == len(vs)
    assert [v.distance for v in vs] == sorted(v.distance for v in vs)


def test_variant_lookup_names_axes_and_options():
    e = reference.get("opt.momentum")
    assert e.variant(form="eta_outside").name == "form=eta_outside"
    with pytest.raises(ValueError, match="unknown variant axis 'flavour'"):
        e.variant(flavour="x")
    with pytest.raises(ValueError, match="has no option 'eta_sideways'"):
        e.variant(form="eta_sideways")


def test_unknown_id_lists_known_ids():
    with pytest.raises(KeyError, match="opt.gd"):
        reference.get("opt.nope")
    with pytest.raises(KeyError, match="no spec entry matches"):
        reference.entries_matching("zzz")
    opt = {i for i in INVENTORY_IDS if i.startswith("opt.")}
    assert {e.id for e in reference.entries_matching("opt")} >= opt


def test_registering_an_id_twice_is_an_error():
    e = reference.get("opt.gd")
    with pytest.raises(ValueError, match="already registered"):
        register(e)


def test_entry_validation():
    with pytest.raises(ValueError, match="tier"):
        SpecEntry("x.y", "t", "gold", "optimizers", "f", ())
    opt = VariantOption("a", "d", "f", ("s",))
    with pytest.raises(ValueError, match="unique"):
        VariantAxis("ax", (opt, opt))
    with pytest.raises(ValueError, match="must not be empty"):
        VariantAxis("ax", ())


def test_json_has_what_a_citer_needs():
    j = reference.get("opt.nesterov").to_json()
    assert set(j) >= {"id", "title", "formula", "citations", "variants", "errata"}
    assert any("Solberg" in c["author"] for c in j["citations"])
    assert j["errata"][0]["printed"] != j["errata"][0]["correct"]
    assert Citation("A", "B", 2000).text() == "A (2000). B"


def test_hyperparameter_checks_its_sampling_fields():
    from trainspec.reference.registry import HyperParameter

    with pytest.raises(TypeError, match="low_closed must be a bool"):
        HyperParameter("d", "d", "x", 0.0, None, 1e-6, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="log_scale needs sample_low > 0"):
        HyperParameter("d", "d", "x", 0.0, None, log_scale=True)
    with pytest.raises(ValueError, match="sample_low must be <= sample_high"):
        HyperParameter("d", "d", "x", 0.0, None, sample_low=2.0, sample_high=1.0)
