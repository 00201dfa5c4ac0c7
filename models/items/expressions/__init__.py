"""Condition, update and projection expressions: a parser to a typed AST and an
evaluator that gives them their meaning."""
