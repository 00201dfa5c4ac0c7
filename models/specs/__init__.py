"""Sequential specifications: what a single-copy object allows, step by step."""
