"""Approvals and read-only: the token an intrusive step must hold, and the switch that
refuses them all.

These live in the data plane so that a collector can require one (the py-spy sampler takes
a permit made from an `Approval`) without importing the gate above it. Only the approval
gate (actions/gate.py) makes an `Approval`: it alone holds the key the constructor checks.
`lockdown()` (what `--read-only` does before anything else starts) makes every approval
refuse from then on, inside the action itself.
"""

from __future__ import annotations

_GATE_KEY = object()  # the gate's; nothing else may pass it to Approval
_locked_down = False


def lockdown() -> None:
    """Make every action refuse to run for the rest of this process (`--read-only`)."""
    global _locked_down
    _locked_down = True


def locked_down() -> bool:
    return _locked_down


class ActionRefused(Exception):
    """An action was asked to run without a valid approval, or under read-only."""


class Approval:
    """Proof that the gate asked and the person said yes. Only the gate makes these."""

    __slots__ = ("_used",)

    def __init__(self, key: object) -> None:
        if key is not _GATE_KEY:
            raise ActionRefused("only the approval gate can approve an action")
        self._used = False

    def check(self) -> None:
        """Called by an action before it changes anything; an approval is good once."""
        if _locked_down:
            raise ActionRefused("perftop is read-only: no action runs")
        if self._used:
            raise ActionRefused("this approval was already used")
        self._used = True
