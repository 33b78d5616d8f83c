"""Python stacks: py-spy attached to a running process, or pyinstrument inside a launched
one. Both produce `StackWindow`s (model.py); profile.py aggregates them for the pane, the
headless snapshot and the exports."""
