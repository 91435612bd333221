"""The CDP data model, the linter and extension flattening: pure, no I/O, no Qt, no HTTP."""
