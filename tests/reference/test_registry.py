import pytest

from trainspec import reference
from trainspec.reference.registry import Citation, SpecEntry, VariantAxis, VariantOption, register

# every ID of shared/spec/inventory.md (copied: the inventory is outside the repository)
INVENTORY_IDS = {
    "opt.gd",
    "opt.momentum",
    "opt.nesterov",
    "opt.adagrad",
    "opt.rmsprop",
    "opt.adam",
    "opt.nadam",
    "opt.adamax",
    "opt.adadelta",
    "opt.weight_decay",
    "opt.legacy_decay",
    "opt.second_order",
    "opt.defaults",
    "sched.linear",
    "sched.power",
    "sched.exponential",
    "sched.piecewise_constant",
    "sched.annealing",
    "sched.plateau",
    "sched.lr_range",
    "sched.log_uniform",
    "norm.batch.train",
    "norm.batch.running",
    "norm.batch.test",
    "norm.batch.grad",
    "norm.standardize",
    "norm.whiten",
    "drop.inverted",
    "drop.naive",
    "drop.mc",
    "init.glorot_uniform",
    "init.glorot_normal",
    "init.he_normal",
    "init.he_uniform",
    "init.lecun_normal",
    "init.lecun_uniform",
    "init.variance_rule",
    "init.fans",
    "init.bias",
    "init.errata",
    "act.step",
    "act.sigmoid",
    "act.tanh",
    "act.relu",
    "act.leaky_relu",
    "act.prelu",
    "act.rrelu",
    "act.elu",
    "act.selu",
    "act.softmax",
    "loss.mse",
    "loss.half_sse",
    "loss.softmax_ce",
    "loss.logistic",
    "reg.max_norm",
    "clip.value",
    "clip.norm",
    "clip.global_norm",
    "train.minibatch",
    "train.early_stopping",
    "train.backprop",
}


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
