"""Reading the CSV files regions keep (appeal histories, municipality lists), gzipped or not."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def read_csv(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a (possibly gzipped) UTF-8 CSV file."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)
