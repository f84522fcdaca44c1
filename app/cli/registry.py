"""``beacon registry``."""

from __future__ import annotations

import argparse
from typing import Any


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    subcommands.add_parser("registry", parents=[common], help="(being built)")
