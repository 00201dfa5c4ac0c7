"""z3 proofs of the models' laws, each a function returning a ProofResult."""
