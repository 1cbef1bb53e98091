import pytest

from trainspec import reference
from trainspec.reference.registry import Citation, SpecEntry, VariantAxis, VariantOption, register

INVENTORY_IDS = {"opt.gd", "opt.momentum", "opt.nesterov", "opt.weight_decay"}


def test_issue_ids_are_registered():
    ids = {e.id for e in reference.all_entries()}
    assert INVENTORY_IDS <= ids


@pytest.mark.parametrize("entry", reference.all_entries(), ids=lambda e: e.id)
def test_every_entry_is_citable(entry):
    assert entry.title and entry.formula
    # at least one lecture note (seed) and one original source
    seeds = [c for c in entry.citations if c.where.startswith("seed ")]
    papers = [c for c in entry.citations if c.year and not c.where.startswith("seed ")]
    assert seeds, f"{entry.id} cites no lecture note"
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
    assert {e.id for e in reference.entries_matching("opt")} >= INVENTORY_IDS


def test_registering_an_id_twice_is_an_error():
    e = reference.get("opt.gd")
    with pytest.raises(ValueError, match="already registered"):
        register(e)


def test_entry_validation():
    with pytest.raises(ValueError, match="tier"):
        SpecEntry("x.y", "t", "gold", "optimizer", "f", ())
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
