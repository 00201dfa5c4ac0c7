"""Mutants of the reference store: each preset with one small, named bug that breaks
a guarantee the preset claims (see :mod:`replicheck.implementation.mutants.catalog`)."""

from replicheck.implementation.mutants.catalog import MUTANTS, Mutant, mutant

__all__ = ["MUTANTS", "Mutant", "mutant"]
