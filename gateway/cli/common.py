"""What every ``gateway`` command shares: the ``--config`` option, the settings, logging."""
from __future__ import annotations

import argparse
import logging

from gateway.config import Settings, load_settings


def config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML settings (embedded defaults when left out)")


def settings_of(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=getattr(logging, settings.logging.level.upper(), logging.INFO),
        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s",
    )
    # the migration tool's start-up chatter is not news in every process
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
