"""core: records and configuration, the lowest layer. Process-wide defaults that must be set before numpy or Prefect load; an explicit setting in
the environment always wins.

* OPENBLAS_NUM_THREADS=1: natasha's NER multiplies small matrices, and OpenBLAS's default of
  one thread per core makes those threads fight each other and our own processes (measured on
  2 cores: 2.1 → 0.54 ms per post with one thread).
* PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=180: `incidents run` and the other flows
  without PREFECT_API_URL start Prefect's temporary server in a subprocess, and Prefect gives it
  20 s. On a busy 2-core machine (a fresh clone installing while other jobs run) it took longer,
  and `make run` failed with "Timed out while attempting to connect to ephemeral Prefect API
  server" (seen 2026-11-23).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
