"""The training layer: what dcgan_mnist.py calls around the article's loop.
`run.TrainingRun` is the conductor; each other module is one part of a
run's life (docs/architecture.md)."""
