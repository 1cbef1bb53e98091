"""``python -m trainspec``: the same as the ``trainspec`` console command."""

from trainspec.conformance.cli import main

raise SystemExit(main())
