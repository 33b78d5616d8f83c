"""Colour themes as data (TOML files), selectable by flag or config."""
