"""The registry-driven conformance suite, as shipped in ``trainspec.conformance.suite``.

``pytest tests/test_conformance.py --trainspec-backend torch`` runs the same tests as
``pytest --pyargs trainspec.conformance.suite --trainspec-backend torch``; the assertions are
:func:`trainspec.conformance.suite.test_conformance.assert_row_conforms` and
:func:`~trainspec.conformance.suite.test_conformance.assert_row_matches_its_pin`.
"""

from trainspec.conformance.suite.test_conformance import test_no_pinned_row_is_gone, test_row

__all__ = ["test_no_pinned_row_is_gone", "test_row"]
