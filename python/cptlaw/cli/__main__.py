"""``python -m cptlaw.cli``: the ``cptlaw`` command."""

import sys

from cptlaw.cli import main

if __name__ == "__main__":
    sys.exit(main())
