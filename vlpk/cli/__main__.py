"""`python -m vlpk.cli`: the `vlpk` command without its console script."""

import sys

from vlpk.cli import main

# Guarded so that `pytest --doctest-modules vlpk` can import this module.
if __name__ == "__main__":
    sys.exit(main())
