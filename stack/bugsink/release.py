"""The pinned Bugsink release and the names derived from it.

Bugsink runs from its own venv (see :mod:`stack.bugsink.venv`); everything
cached on disk is keyed by :data:`BUGSINK_VERSION` so that a version bump
rebuilds the venv and the migrated template instead of reusing stale ones.
"""

from __future__ import annotations

COMPONENT = "bugsink"

#: Latest release on PyPI when this was written (``pip index versions bugsink``).
BUGSINK_VERSION = "2.6.2"

#: Bumped whenever the provisioning of the migrated template changes shape,
#: so that old templates in the cache are not reused.
TEMPLATE_FORMAT = 1
