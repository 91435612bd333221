"""Qt item models over pydantic state and job results."""
