"""The examples in the layout helpers' docstrings hold (footer keys, columns, table cuts)."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from perftop.tui import columns, footer, line_table


@pytest.mark.parametrize("module", [columns, footer, line_table], ids=lambda m: m.__name__)
def test_docstring_examples(module: ModuleType) -> None:
    failed, attempted = doctest.testmod(module)
    assert attempted > 0, f"{module.__name__} has no examples"
    assert failed == 0
