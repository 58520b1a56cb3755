"""`python -m gradcheck`: see gradcheck.cli.main."""

import sys

from gradcheck.cli.main import main

sys.exit(main())
