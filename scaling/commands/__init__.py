"""CLI commands, one module per concept. Each module exposes ``COMMANDS``, a list of click commands."""
