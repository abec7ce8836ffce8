"""The judgement of a run: evaluation, the result model, waivers, baselines and the one exit code."""
