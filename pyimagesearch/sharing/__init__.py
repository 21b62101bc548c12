"""Sharing what a run learned: the generator exported for the Hugging Face
Hub and ONNX with its model card (export.py, card.py), and the demo page
(demo.py)."""
