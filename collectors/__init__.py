"""The data plane: collectors sample one source each and return frozen samples.

Nothing in this package imports Textual or Rich (checked by tests/test_layering.py).
"""
