"""Records: tenants, keys, analyses, events, gateway config, usage and audit, behind one port."""

from assay.store.port import Page, RecordStore
from assay.store.record import SYSTEM_TENANT, Record, TenantRecord

__all__ = ["SYSTEM_TENANT", "Page", "Record", "RecordStore", "TenantRecord"]
