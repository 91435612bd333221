"""The steps of a PoC, one module each."""
