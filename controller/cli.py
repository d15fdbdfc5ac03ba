"""Subcommands of this package for run_emulation.py (none yet)."""


def register(subparsers):
    """Add this package's subcommands to run_emulation.py's parser."""
