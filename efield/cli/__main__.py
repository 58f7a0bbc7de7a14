"""``python -m efield.cli``."""

import sys

from . import main

sys.exit(main())
