"""The registry-driven conformance suite, shipped with trainspec so that any installed adapter
can run it without copying files::

    pytest --pyargs trainspec.conformance.suite --trainspec-backend NAME

(the options come from trainspec's pytest plugin, :mod:`trainspec.conformance.pytest_plugin`).
"""
