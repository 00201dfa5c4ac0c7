"""The Store contract, the reference store, adapters and seeded bugs (the "how")."""
