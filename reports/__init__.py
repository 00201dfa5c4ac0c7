"""Verdicts rendered for people and machines, and the command line (the "voice")."""
