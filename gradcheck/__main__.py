"""`python -m gradcheck`: see gradcheck.cli."""

import sys

from .cli import main

sys.exit(main())
