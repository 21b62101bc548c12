"""The article's own code, verbatim (reference/article.py): the oracle the
tests compare the project's models and batch loop against, and the baseline
the benchmarks measure the script's speed against. Not used by the script."""
