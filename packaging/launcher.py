"""PyInstaller entry point of the frozen app: the same ``workbench`` command as the wheel's."""

import multiprocessing
import sys

from workbench.cli import main

if __name__ == "__main__":
    # DataLoader workers re-run this executable; freeze_support makes them workers, not apps.
    multiprocessing.freeze_support()
    sys.exit(main())
