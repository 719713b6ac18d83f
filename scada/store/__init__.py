"""Store-and-forward: a durable SQLite outbox of what the ATN must acknowledge, with the
1-day / 7-day / 28-day retention tiers. See :mod:`scada.store.store` for the message life,
:mod:`scada.store.retention` for the tiers and :mod:`scada.store.schema` for the file.

Standard library only (``sqlite3``, ``zlib``); the runtime opens one :class:`Store` in its data
dir and uses it from the event loop.
"""

from scada.store.db import StoreError
from scada.store.encoding import OutboxMessage
from scada.store.retention import CompactionReport, Retention
from scada.store.schema import SCHEMA_VERSION
from scada.store.stats import StoreDetails, TierStats, details_at
from scada.store.store import (
    DEFAULT_CAP_BYTES,
    DEFAULT_COMPACT_ROWS,
    DEFAULT_MAX_ATTEMPTS,
    STORE_FILE,
    OutboxItem,
    Store,
    store_path,
)

__all__ = [
    "DEFAULT_CAP_BYTES",
    "DEFAULT_COMPACT_ROWS",
    "DEFAULT_MAX_ATTEMPTS",
    "SCHEMA_VERSION",
    "STORE_FILE",
    "CompactionReport",
    "OutboxItem",
    "OutboxMessage",
    "Retention",
    "Store",
    "StoreDetails",
    "StoreError",
    "TierStats",
    "details_at",
    "store_path",
]
