"""What a model name means for a tenant: its resource, and the upstream targets to try in
order. Reads are cached for a few seconds, so a request costs no store read when warm, and
decrypted credentials live only in this process's memory, never in a record or a log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from assay.gateway.errors import GatewayError
from assay.gateway.provided import getter
from assay.records import GatewayConnection, GatewayResource, RouteTarget
from assay.store import RecordStore
from assay.vault import Vault

TTL_S = 5.0


class Target(BaseModel):
    model_config = ConfigDict(frozen=True)

    connection: GatewayConnection
    model: str

    @property
    def label(self) -> str:
        return f"{self.connection.name}/{self.model}"


class Resolved(BaseModel):
    resource: GatewayResource
    targets: list[Target]
    connections: dict[str, GatewayConnection]  # every enabled one the resource or its rules name

    def build(self, named: list[RouteTarget]) -> list[Target]:
        return [Target(connection=self.connections[t.connection_id], model=t.model)
                for t in named if t.connection_id in self.connections]  # fmt: skip


class Catalog:
    def __init__(
        self, records: RecordStore | Callable[[], RecordStore], vault: Vault | Callable[[], Vault],
        *, ttl_s: float = TTL_S,
    ) -> None:  # fmt: skip
        self._records_of = getter(records)
        self._vault_of = getter(vault)
        self._ttl_s = ttl_s
        self._resolved: dict[tuple[str, str], tuple[float, Resolved]] = {}
        self._secrets: dict[tuple[str, int], tuple[float, str]] = {}
        self._lock = threading.Lock()

    @property
    def records(self) -> RecordStore:
        return self._records_of()

    def resolve(self, tenant_id: str, name: str) -> Resolved:
        now = time.monotonic()
        hit = self._resolved.get((tenant_id, name))
        if hit is not None and hit[0] > now:
            return hit[1]
        records = self._records_of()
        resource = records.get(GatewayResource, tenant_id, name)
        if resource is None or not resource.enabled:
            raise GatewayError(
                f"The model `{name}` does not exist or you do not have access to it.",
                status=404, code="model_not_found", param="model",
            )  # fmt: skip
        named = {t.connection_id for t in resource.targets}
        for rule in resource.rules:
            named |= {t.connection_id for t in rule.targets}
            named |= {s.target.connection_id for s in rule.split}
        connections = {}
        for connection_id in named:
            connection = records.get(GatewayConnection, tenant_id, connection_id)
            if connection is not None and connection.enabled:
                connections[connection_id] = connection
        targets = [Target(connection=connections[t.connection_id], model=t.model)
                   for t in resource.targets if t.connection_id in connections]  # fmt: skip
        if not targets:
            raise GatewayError(f"The model `{name}` has no enabled connection.", status=503,
                               code="no_upstream", param="model")  # fmt: skip
        resolved = Resolved(resource=resource, targets=targets, connections=connections)
        with self._lock:
            if len(self._resolved) > 10_000:
                self._resolved.clear()
            self._resolved[(tenant_id, name)] = (now + self._ttl_s, resolved)
        return resolved

    def resources(self, tenant_id: str) -> list[GatewayResource]:
        found, cursor = [], None
        while True:
            page = self._records_of().list(GatewayResource, tenant_id, cursor=cursor, limit=200)
            found += [r for r in page.items if r.enabled]
            if (cursor := page.next_cursor) is None:
                return found

    def credentials(self, connection: GatewayConnection) -> str | None:
        if connection.sealed_credentials is None:
            return None
        key = (connection.id, connection.version)
        now = time.monotonic()
        hit = self._secrets.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        plain = connection.credentials(self._vault_of())
        with self._lock:
            self._secrets[key] = (now + 60.0, plain)
        return plain

    def forget(self) -> None:
        with self._lock:
            self._resolved.clear()
            self._secrets.clear()
