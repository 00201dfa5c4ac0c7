"""Checkers: decide whether a history is allowed by a consistency model.

``replicheck.histories.checkers.linearizable`` judges single-object histories for
linearizability against a sequential specification.
"""
