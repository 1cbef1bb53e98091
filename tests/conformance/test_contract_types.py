"""The typed contract's declarations: every kind's case and result types are public names of
``trainspec.conformance``, and the printed contracts carry the typed signatures (the typing test
proper, mypy against the installed package, is tests/typing, run by ``tox -e typecheck``)."""

from __future__ import annotations

import typing

import pytest

from trainspec import conformance
from trainspec.conformance.adapter_kit import all_kinds, render_contract, typed_contract
from trainspec.conformance.contracts import KindContract, NestedMappingOf, type_text
from trainspec.conformance.kinds import Kind

KINDS = [k for k in all_kinds() if k.contract is not None]


def _contract(kind: Kind) -> KindContract:
    assert kind.contract is not None
    return kind.contract


def test_every_kind_declares_a_contract() -> None:
    assert len(KINDS) == len(all_kinds()) >= 12


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_case_and_result_types_are_exported_under_their_names(kind: Kind) -> None:
    c = _contract(kind)
    assert getattr(conformance, c.result_name) is c.result_type
    assert c.result_name in conformance.__all__
    for t in c.case_types:
        assert getattr(conformance, t.__name__) is t and t.__name__ in conformance.__all__


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_printed_contract_shows_the_typed_signature(kind: Kind) -> None:
    c = _contract(kind)
    signature = f"def run(case: {c.case_type_text()}, dtype: str, device: str) -> {c.result_name}"
    assert typed_contract(c)[0] == signature + ": ..."
    for markdown in (False, True):
        text = render_contract(kind.name, markdown=markdown)
        assert signature in text and c.implementation_type().split(" | ")[0] in text


def test_activation_result_is_a_typed_dict_of_float_arrays() -> None:
    hints = typing.get_type_hints(conformance.ActivationResult)
    assert set(hints) == {"y", "z", "alpha"}
    assert all(type_text(t) == "FloatArray" for t in hints.values())
    assert conformance.ActivationResult.__required_keys__ == frozenset()


def test_dropout_has_one_implementation_type_per_case_type() -> None:
    (dropout,) = [k for k in KINDS if k.name == "dropout"]
    assert _contract(dropout).implementation_type() == (
        "Implementation[DropoutCase, DropoutResult] | "
        "Implementation[LinearDropoutCase, DropoutResult]"
    )


def _expected(*args: object) -> NestedMappingOf:
    return NestedMappingOf()


def test_an_alias_result_needs_a_name() -> None:
    alias = typing.Mapping[str, conformance.FloatArray]
    with pytest.raises(ValueError, match="result_name"):
        KindContract((), (), "", _expected, case_argument="None", result_type=alias)
    named = KindContract(
        (), (), "", _expected, case_argument="None", result_type=alias, result_name="Tree"
    )
    assert named.result_definition() == "Mapping[str, FloatArray]"
    assert named.implementation_type() == "Implementation[None, Tree]"
