"""Clients for the real CDP HTTP API: batch files, Batch, Guest and Order REST, Audience Export."""
