"""DuckDB, the system of record: runs, their stages, and every stage's output keyed by run id."""

from labelaudit.store.database import AuditStore, StageWrite
from labelaudit.store.schema import SCHEMA_VERSION, STAGE_TABLES

__all__ = ["SCHEMA_VERSION", "STAGE_TABLES", "AuditStore", "StageWrite"]
