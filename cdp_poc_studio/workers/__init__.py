"""The only place where Qt meets threads: the task runner and its job signals."""
