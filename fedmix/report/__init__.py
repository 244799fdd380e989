"""Tables and figures of the paper, built only from result files (never from inside training)."""
