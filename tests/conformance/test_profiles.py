import pytest

from trainspec.conformance.profiles import PROFILES, hypothesis_settings


def test_profiles():
    assert set(PROFILES) == {"quick", "ci", "thorough"}
    ci = hypothesis_settings("ci")
    assert ci.derandomize and ci.database is None and ci.deadline is None
    assert (
        hypothesis_settings("quick").max_examples
        < ci.max_examples
        < hypothesis_settings("thorough").max_examples
    )
    with pytest.raises(ValueError, match="profile='nightly'"):
        hypothesis_settings("nightly")


def _import_local_module_of_constants(tmp_path, monkeypatch, name):
    """A module outside site-packages (Hypothesis calls it local) holding 400 distinct numbers."""
    import importlib

    folder = tmp_path / "project"
    folder.mkdir()
    numbers = ", ".join(f"{k + 0.3183098861837907 * k:.17g}, {7919 * k + 13}" for k in range(200))
    (folder / f"{name}.py").write_text(f"NUMBERS = [{numbers}]\n")
    monkeypatch.syspath_prepend(str(folder))
    importlib.import_module(name)


def test_a_local_module_of_constants_changes_no_draw_of_the_kit(tmp_path, monkeypatch):
    """Hypothesis mixes the constants of local modules into its draws; the kit's draws (here a
    witness pool of optimizer cases) are the same before and after such a module is imported,
    as they are for an installed kit and for a source checkout."""
    from hypothesis import given, seed, settings
    from hypothesis import strategies as st

    from trainspec.conformance import witnesses
    from trainspec.reference import get

    def kit_draws():
        pool = witnesses._draw_pool(get("opt.adam"), "float32", "one_step", 60)
        return repr([c.summary() for c in pool])

    def plain_draws():  # Hypothesis alone, outside the kit
        out = []

        @seed(0)
        @settings(database=None, max_examples=300, derandomize=True)
        @given(st.integers(0, 10**9))
        def collect(n):
            out.append(n)

        collect()
        return out

    kit_before, plain_before = kit_draws(), plain_draws()
    _import_local_module_of_constants(tmp_path, monkeypatch, "trainspec_probe_constants")
    assert kit_draws() == kit_before
    from hypothesis.internal.conjecture import providers

    if hasattr(providers, "_get_local_constants"):  # this Hypothesis has local constants:
        # they reach a plain draw (so the check above could fail), not the kit's
        assert set(plain_draws()) - set(plain_before) & {7919 * k + 13 for k in range(200)}
