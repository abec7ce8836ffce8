"""Coverage-guided fuzzing (atheris) of the readers of hostile input; see ``inputs.py``."""
