"""Config reading: safe YAML, `base:` inheritance, `--set` overrides, schema validation."""
