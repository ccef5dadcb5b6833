"""``python -m gateway.cli``."""
import sys

from gateway.cli import main

if __name__ == "__main__":  # importing the module (a tool walking the package) runs nothing
    sys.exit(main())
