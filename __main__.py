"""`python -m perftop`."""

from .cli import main

raise SystemExit(main())
