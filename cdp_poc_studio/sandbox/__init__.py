"""The embedded CDP sandbox: a local server that speaks the real CDP HTTP API."""
