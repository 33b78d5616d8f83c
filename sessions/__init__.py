"""The sessions: what starts collectors and samplers, opens connections, builds actions and
hands them to the gate, for a front end that is not the TUI (today `perftop snapshot`).

This layer sits above the data plane (collectors/, the store, permits) and the actions, and
may use both; nothing below it imports it.
"""
