"""gunicorn reads this file from its working directory (/app) on its own: the CMD needs no --config.

The CMD starts several workers; the render sets PROMETHEUS_MULTIPROC_DIR so that prometheus_client
keeps every worker's values in files there and /metrics sums them (config/metrics.py).
"""

import os

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    from prometheus_client import multiprocess

    def child_exit(server, worker):
        # A dead worker's live gauges stop counting; its counters stay summed in.
        multiprocess.mark_process_dead(worker.pid)
