"""The interactive session: screen, input, slash commands, approvals (see cli/interactive.py)."""
