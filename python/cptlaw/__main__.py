"""``python -m cptlaw``: the ``cptlaw`` command (``python -m cptlaw --help``)."""

import sys

from cptlaw.cli import main

if __name__ == "__main__":
    sys.exit(main())
