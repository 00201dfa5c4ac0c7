"""Brute-force oracles that decide small histories straight from the definitions."""
