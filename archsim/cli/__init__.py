"""The `archsim` command line: one module per subcommand (`cmd_*.py`), discovered at start."""
