"""Argument types shared by the command-line scripts."""

import argparse


def positive_int(text):
    """argparse type: an integer of at least 1, else argparse's usage error."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value
