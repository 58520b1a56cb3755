"""`python -m gradcheck`: see gradcheck.cli.main (run under gradcheck.cli.guard)."""

import sys

from gradcheck.cli.main import run

sys.exit(run())
