"""Converters from other checkpoint formats to this project's export format.

``accessory``: the authors' released SPHINX / SPHINX-X checkpoints (LLaMA2-Accessory format).
"""
