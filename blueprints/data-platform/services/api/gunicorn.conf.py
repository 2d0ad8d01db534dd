"""gunicorn reads this file from its working directory (/app) on its own: the Dockerfile's CMD
needs no --config.

The CMD starts 2 workers. For /metrics to report the service rather than whichever worker
answered, prometheus_client must run in multiprocess mode, which it picks when it is first
imported, from PROMETHEUS_MULTIPROC_DIR. The workers are forked from this (master) process, so
the variable is set here, before anything imports prometheus_client, unless the environment
already names a directory.
"""

import os
import shutil
import tempfile

multiproc_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "prometheus-multiproc")
)
# Files left by an earlier run would be added to this one's counters.
shutil.rmtree(multiproc_dir, ignore_errors=True)
os.makedirs(multiproc_dir, exist_ok=True)

from prometheus_client import multiprocess  # noqa: E402  (after the variable, on purpose)


def child_exit(server, worker):
    # A dead worker's gauges (live-process ones) stop counting; its counters stay summed in.
    multiprocess.mark_process_dead(worker.pid)
