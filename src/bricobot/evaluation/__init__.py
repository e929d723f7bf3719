"""Evaluation: vectorized sim evaluation with confidence intervals, the demo pipeline (record →
train → evaluate → report) and its report; the benchmark suite script builds on them."""
