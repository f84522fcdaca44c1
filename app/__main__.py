import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    # Decode processes are spawned: in a frozen bundle this lets the child run its target
    # instead of the console, and the guard keeps `python -m app` from re-running itself.
    multiprocessing.freeze_support()
    sys.exit(main())
