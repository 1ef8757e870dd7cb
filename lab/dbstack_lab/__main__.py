"""`python3 -m dbstack_lab` (what lab/labctl runs) is the labctl command line."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
