"""`python -m vlpk.cli`: the `vlpk` command without its console script."""

import sys

from vlpk.cli import main

sys.exit(main())
