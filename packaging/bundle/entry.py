"""The bundle's executable: the ``phasebrush`` command (app, CLI, --screenshot)."""

import multiprocessing
import sys

from phasebrush.app.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()   # a frozen app re-executes itself for child processes
    sys.exit(main())
