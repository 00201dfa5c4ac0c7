"""Hypothesis strategies, stateful machines and the pytest plugin (the "probe")."""
