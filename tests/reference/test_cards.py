"""A card's public function and its spec entry agree on the sources: every author (or, for an
unattributed note, the title) that the entry cites is named in the function's docstring; and on
the notation: every Greek letter of the entry's formula is used in the docstring too."""

import importlib
import inspect
import pkgutil
import re

import pytest

from trainspec import reference
from trainspec.reference.registry import Citation


def _public_functions():
    """``{spec_id: [(qualified name, docstring)]}``: a card's public function names its ID in
    double backquotes on the first line of its docstring."""
    out: dict[str, list[tuple[str, str]]] = {}
    registered = {e.id for e in reference.all_entries()}
    for info in pkgutil.walk_packages(reference.__path__, f"{reference.__name__}."):
        module = importlib.import_module(info.name)
        for name, f in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(f) or f.__module__ != info.name:
                continue
            doc = inspect.getdoc(f) or ""
            for spec_id in re.findall(r"``([a-z_]+(?:\.[a-z_0-9]+)+)``", doc.split("\n")[0]):
                if spec_id not in registered:  # ``entry.source`` and the like
                    continue
                out.setdefault(spec_id, []).append((f"{info.name}.{name}", doc))
    return out


FUNCTIONS = _public_functions()


def _names(c: Citation) -> str:
    """What a docstring must name of ``c``: the first author's surname, or the title's opening
    words for an unattributed note."""
    if c.author.startswith("("):
        return re.split(r"[,(]", c.title)[0].strip()
    return c.author.split(",")[0].split()[-1]


@pytest.mark.parametrize("spec_id", sorted(FUNCTIONS))
def test_the_public_function_names_the_entrys_sources(spec_id):
    entry = reference.get(spec_id)
    for qualname, doc in FUNCTIONS[spec_id]:
        flat = " ".join(doc.split())
        missing = sorted(
            {_names(c) for c in entry.citations}
            - {n for n in map(_names, entry.citations) if n in flat}
        )
        assert not missing, f"{qualname} (card of {spec_id}) does not name {missing}"


GREEK = re.compile(
    r"\\(alpha|beta|gamma|delta|epsilon|zeta|eta|theta|iota|kappa|lambda|mu|nu|xi|pi|rho|sigma|"
    r"tau|upsilon|phi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Pi|Sigma|Phi|Psi|Omega)(?![a-zA-Z])"
)


@pytest.mark.parametrize("spec_id", sorted(FUNCTIONS))
def test_the_public_function_writes_the_entrys_symbols(spec_id):
    """One notation: a symbol of the entry's formula (e.g. Nadam's $\\Pi_t$) is the docstring's."""
    used = set(GREEK.findall(reference.get(spec_id).formula))
    for qualname, doc in FUNCTIONS[spec_id]:
        missing = sorted(used - set(GREEK.findall(doc)))
        assert not missing, f"{qualname} (card of {spec_id}) does not write {missing}"


def test_the_three_example_ids_have_one_public_function():
    for spec_id in ("opt.nadam", "sched.plateau", "norm.batch.running"):
        assert len(FUNCTIONS.get(spec_id, [])) == 1, (spec_id, FUNCTIONS.get(spec_id))
