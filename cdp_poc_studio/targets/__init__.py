"""What a run talks to: the embedded sandbox child process and its admin client, tenant profiles and their secrets."""
