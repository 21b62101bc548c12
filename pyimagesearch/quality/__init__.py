"""The quality layer: the project's digit evaluator (a small classifier
trained on the real images, cached), the scores it gives a generator (FLD,
Inception Score, precision, recall, density, coverage, memorisation), and
choosing samples of one class by it."""
