"""``python -m imagelint``: the same entry point as the ``imagelint`` console script."""

from imagelint.cli import main

raise SystemExit(main())
