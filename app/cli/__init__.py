"""The ``beacon`` command: the console by default, and the subcommands for everything else."""

from app.cli.main import main

__all__ = ["main"]
