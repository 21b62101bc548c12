"""Companion code for PyImageSearch's "Training a DCGAN in PyTorch"."""
