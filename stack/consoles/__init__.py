"""The responders' dashboard, served by the stack's own Prometheus as a console page.

:func:`write_consoles` writes ``chaoslab.html`` (generated from the target
profile's ``dashboard`` panels, see :mod:`stack.consoles.dashboard`) and its
console library; start Prometheus with the returned :class:`Consoles`'
directories and the page answers at :meth:`Consoles.url`.
"""

from stack.consoles.dashboard import (
    CONSOLE_FILE,
    Consoles,
    Link,
    Links,
    Panel,
    go_string,
    panels_of,
    render_console,
    up_query,
    write_consoles,
)

__all__ = [
    "CONSOLE_FILE",
    "Consoles",
    "Link",
    "Links",
    "Panel",
    "go_string",
    "panels_of",
    "render_console",
    "up_query",
    "write_consoles",
]
