"""The article's DCGAN (`dcgan.py`, as printed) and the companion code
around it, by layer: `data/`, `sampling/`, `quality/`, `training/`, with the
small shared pieces (errors, files, device, checkpoint, visualize, cli) at
the top. docs/architecture.md draws the flow of one run."""
