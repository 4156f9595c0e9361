"""``python -m batch_job``."""

import sys

from batch_job.cli import main

if __name__ == "__main__":
    sys.exit(main())
