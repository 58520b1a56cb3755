"""`python -m gradcheck.soak`: the soak, thousands of seeded random cases (see `gradcheck.jobs.soak`).

Run from here, the job's functions are `gradcheck.jobs.soak`'s, which process and Dask workers
can unpickle.
"""

import sys

from gradcheck.jobs.soak import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
