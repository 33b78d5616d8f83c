"""Intrusive actions and the one approval gate they all pass through."""
