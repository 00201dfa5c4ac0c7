"""Pure specifications of what a replicated key-value store promises.

Nothing here performs I/O or imports the rest of replicheck: vector clocks and dotted
version vectors, Merkle trees, sequential specifications, the DynamoDB item-store
model, the consistency-model lattice, and z3 proofs of their laws.
"""
