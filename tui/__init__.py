"""Presentation: the Textual app, its panes and screens."""
