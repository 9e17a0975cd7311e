"""`python -m leastpriv` is the `leastpriv` command."""

from leastpriv.cli import main

raise SystemExit(main())
