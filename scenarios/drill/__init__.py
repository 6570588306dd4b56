"""Game-day drills: a hidden fault on a running stack, a team hunting it, a scored journal.

``chaoslab drill start|status|declare|note|hint|reveal|end|abort`` (see
:mod:`scenarios.drill.commands`); the background process that runs the load
and the faults is :mod:`scenarios.drill.worker`.
"""
