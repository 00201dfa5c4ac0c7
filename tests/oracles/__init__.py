"""Brute-force oracles, independent of the checkers, that the agreement tests hold them to."""
