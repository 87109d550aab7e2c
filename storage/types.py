"""Column types shared by the live models and the migrations.

Migrations must not import the live models (a later change to a table would silently change what
an old migration creates); they import this module, whose types never change meaning.
Times are stored as naive UTC and always come back as aware UTC (`UTCDateTime`), so the code
never compares naive and aware datetimes, whichever database is underneath.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the database; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)
