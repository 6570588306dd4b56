"""``python -m stack.toxiproxy``: same as ``chaoslab-toxiproxy``."""

import sys

from stack.toxiproxy.cli import main

sys.exit(main())
