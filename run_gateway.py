#!/usr/bin/env python3
"""Start the gateway: ``python run_gateway.py [--config FILE]`` (same as ``gateway serve``)."""
import sys

from gateway.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
