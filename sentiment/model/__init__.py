"""The fitted model at serving time: the artifact contract, the scorer, explanations."""
