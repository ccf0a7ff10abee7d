"""Mapping strategies (one module each), registered by their `strategy` name."""
