import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homevisits.settings")

application = get_wsgi_application()
# Everything loaded at start-up lives as long as the worker: keep it out of the collector's
# scans, which otherwise add tens of milliseconds to the odd board refresh (see bench_board).
gc.freeze()
