"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi …``."""

import gc

from lavish import create_app

app = create_app()
# Everything built at start-up lives as long as the process: keep the cyclic garbage collector
# from re-scanning it on every collection (it showed per request in bench/hosting.py).
gc.freeze()
