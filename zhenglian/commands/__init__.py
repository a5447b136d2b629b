"""Subcommands of ``zhenglian``, one module per group or command."""
