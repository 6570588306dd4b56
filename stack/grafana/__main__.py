"""``python -m stack.grafana``: write the dashboard JSON (see :mod:`stack.grafana.dashboard`)."""

from stack.grafana.dashboard import main

main()
