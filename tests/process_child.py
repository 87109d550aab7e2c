"""Processing in a child process, for the tests that kill it midway (`tests/test_process_crash.py`).

`python -m tests.process_child '<json spec>'` runs `incidents.services.processing.process_pending` — exactly what
`incidents run` and `incidents import` do after the crawl — over the posts already stored in
the database at `spec["db"]`, with the fixed clock the parent uses for its uninterrupted
reference run. It prints `ready` once the rules are compiled (the parent starts its kill timer
there) and a JSON line of figures at the end.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def main(spec: dict[str, Any]) -> None:
    from core.config import load_region
    from incidents.services.processing import process_pending
    from pipelines.signals import SignalBuilder
    from storage.db import open_database

    cfg = load_region(Path(spec["config"]))
    engine = open_database(spec["db"])
    builder = SignalBuilder(cfg, use_ner=False)
    print("ready", flush=True)
    stats = process_pending(
        engine, cfg, lambda: NOW, builder=builder, batch_size=int(spec.get("batch_size", 1000))
    )
    print(
        json.dumps(
            {"posts": stats.posts, "opened": stats.incidents_opened, "joined": stats.incidents_joined}
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
