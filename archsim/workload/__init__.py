"""Workloads: model specs, precisions, and the per-op traces built from them."""
