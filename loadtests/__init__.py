"""Locust user classes and load shapes for the document service.

Runs only inside a Locust process (``python -m locust -f loadtests/locustfile.py``):
importing Locust monkey-patches the interpreter with gevent, so no other
package of the lab imports ``loadtests``. The lab talks to this package
through environment variables (see :mod:`loadtests.config`) and reads back
the files Locust and :mod:`loadtests.requestlog` write.

Only the standard library and Locust are used here, so the same files run in
the stock ``locustio/locust`` image of the compose stack.

This module deliberately imports nothing: importing the package must not
import Locust.
"""
