"""Activities: every side effect of a run, one job each. The workflow only orchestrates them."""
