"""``python -m scenarios.scaffold URL``: the same as ``chaoslab init URL``."""

from __future__ import annotations

import sys

from scenarios.scaffold.command import main

sys.exit(main())
