"""The command line: `python -m gradcheck` and the `gradcheck` console script."""
