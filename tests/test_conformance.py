"""The registry-driven conformance suite, as shipped in ``trainspec.conformance.suite``.

``pytest tests/test_conformance.py --trainspec-backend torch`` runs the same tests as
``pytest --pyargs trainspec.conformance.suite --trainspec-backend torch``; the assertions are
:func:`trainspec.conformance.suite.test_conformance.assert_row_conforms`.
"""

from trainspec.conformance.suite.test_conformance import test_row

__all__ = ["test_row"]
