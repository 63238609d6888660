"""The API's foundation: problem+json errors, authentication, scopes, tenant fences."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay import tenancy
from assay.api import create_app
from assay.config import load_settings
from assay.records import Analysis, AnalysisStatus, Scope
from assay.records.api_keys import mint_key
from assay.wiring import Ports, build_ports


class World:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        records = ports.records
        self.acme = tenancy.create_tenant(records, "Acme")
        self.globex = tenancy.create_tenant(records, "Globex")
        self.reader = tenancy.issue_key(records, self.acme, "r", [Scope.ANALYSES_READ]).key
        self.gateway_only = tenancy.issue_key(records, self.acme, "g", [Scope.GATEWAY_INVOKE]).key
        self.globex_key = tenancy.issue_key(records, self.globex, "x", [Scope.ADMIN]).key
        self.acme_analyses = [
            records.create(Analysis(tenant_id=self.acme.id, source=f"https://x/{i}.git"))
            for i in range(3)
        ]
        self.globex_analysis = records.create(
            Analysis(tenant_id=self.globex.id, source="https://y/secret.git")
        )

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[TestClient, World]]:
    ports = build_ports(load_settings(home=tmp_path))
    data = World(ports)
    with TestClient(create_app(ports), raise_server_exceptions=False) as client:
        yield client, data
    ports.close()


def _is_problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert str(body["type"]).startswith("https://assay.dev/problems/")
    return body


def test_health_and_readiness(world: tuple[TestClient, World]) -> None:
    client, _ = world
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"records": "ok", "artifacts": "ok", "limits": "ok"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nonsense"},
     {"Authorization": f"Bearer {mint_key()}"}],
)  # fmt: skip
def test_missing_or_bad_keys_get_401_problems(
    world: tuple[TestClient, World], headers: dict[str, str]
) -> None:
    client, _ = world
    response = client.get("/v1/analyses", headers=headers)
    body = _is_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert body["instance"] == "/v1/analyses"


def test_a_key_without_the_scope_gets_403(world: tuple[TestClient, World]) -> None:
    client, data = world
    body = _is_problem(client.get("/v1/analyses", headers=data.auth(data.gateway_only)), 403)
    assert "analyses:read" in str(body["detail"])


def test_tenants_see_only_their_own_analyses(world: tuple[TestClient, World]) -> None:
    client, data = world
    listed = client.get("/v1/analyses", headers=data.auth(data.reader)).json()
    assert sorted(a["id"] for a in listed["items"]) == sorted(a.id for a in data.acme_analyses)
    mine = data.acme_analyses[0].id
    assert client.get(f"/v1/analyses/{mine}", headers=data.auth(data.reader)).status_code == 200
    # Another tenant's id answers exactly like an unknown one, even for an admin key.
    theirs = client.get(f"/v1/analyses/{data.globex_analysis.id}", headers=data.auth(data.reader))
    unknown = client.get("/v1/analyses/nope", headers=data.auth(data.reader))
    assert _is_problem(theirs, 404)["type"] == _is_problem(unknown, 404)["type"]
    cross = client.get(f"/v1/analyses/{mine}", headers=data.auth(data.globex_key))
    _is_problem(cross, 404)


def test_listing_pages_filters_and_rejects_bad_input(world: tuple[TestClient, World]) -> None:
    client, data = world
    headers = data.auth(data.reader)
    first = client.get("/v1/analyses?limit=2", headers=headers).json()
    second = client.get(f"/v1/analyses?limit=2&cursor={first['next_cursor']}", headers=headers)
    ids = [a["id"] for a in first["items"] + second.json()["items"]]
    assert ids == sorted((a.id for a in data.acme_analyses), reverse=True)
    data.ports.records.update(data.acme_analyses[1].evolve(status=AnalysisStatus.RUNNING))
    running = client.get("/v1/analyses?status=running", headers=headers).json()["items"]
    assert [a["id"] for a in running] == [data.acme_analyses[1].id]

    _is_problem(client.get("/v1/analyses?cursor=garbage", headers=headers), 400)
    too_big = _is_problem(client.get("/v1/analyses?limit=5000", headers=headers), 422)
    assert too_big["errors"]
    _is_problem(client.get("/v1/analyses?status=exploded", headers=headers), 422)


def test_revoked_keys_stop_working(world: tuple[TestClient, World], monkeypatch) -> None:
    from assay.api import identity

    monkeypatch.setattr(identity, "CACHE_TTL_S", 0.0)  # no cached grace period in this test
    client, data = world
    issued = tenancy.issue_key(data.ports.records, data.acme, "temp", [Scope.ANALYSES_READ])
    assert client.get("/v1/analyses", headers=data.auth(issued.key)).status_code == 200
    tenancy.revoke_key(data.ports.records, data.acme, issued.record.id)
    _is_problem(client.get("/v1/analyses", headers=data.auth(issued.key)), 401)


def test_unknown_routes_and_methods_are_problems(world: tuple[TestClient, World]) -> None:
    client, _ = world
    _is_problem(client.get("/nowhere"), 404)
    _is_problem(client.delete("/healthz"), 405)


def test_request_ids_are_echoed_or_made(world: tuple[TestClient, World]) -> None:
    client, _ = world
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    assert len(client.get("/healthz").headers["x-request-id"]) == 32


def test_operation_ids_are_readable(world: tuple[TestClient, World]) -> None:
    client, _ = world
    spec = client.get("/openapi.json").json()
    ids = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"list_analyses", "get_analysis", "health", "readiness"} <= ids


def _writer(data: World) -> str:
    scopes = [Scope.ANALYSES_WRITE, Scope.ANALYSES_READ]
    return tenancy.issue_key(data.ports.records, data.acme, "w", scopes).key


def test_submissions_validate_and_honour_idempotency_keys(
    world: tuple[TestClient, World],
) -> None:
    client, data = world
    headers = {**data.auth(_writer(data)), "Idempotency-Key": "ci-run-42"}
    body = {"source": "https://github.com/example/repo.git", "engine": "offline"}
    first = client.post("/v1/analyses", json=body, headers=headers)
    assert first.status_code == 202
    assert first.headers["location"] == f"/v1/analyses/{first.json()['id']}"
    assert first.json()["status"] == "queued"
    again = client.post("/v1/analyses", json=body, headers=headers)
    assert again.json()["id"] == first.json()["id"]
    conflict = client.post("/v1/analyses", json={**body, "ref": "dev"}, headers=headers)
    _is_problem(conflict, 422)

    bad = client.post("/v1/analyses", json={"source": "file:///etc"}, headers=headers)
    assert "https://" in str(_is_problem(bad, 422)["errors"])
    _is_problem(client.post("/v1/analyses", content=b"{", headers=headers), 422)
    reader_only = client.post("/v1/analyses", json=body, headers=data.auth(data.reader))
    _is_problem(reader_only, 403)


def test_archive_uploads_check_type_and_size(world: tuple[TestClient, World], monkeypatch) -> None:
    import gzip
    import io
    import tarfile
    import zipfile

    from assay.api.routes import analyses

    client, data = world
    headers = data.auth(_writer(data))
    wrong = client.post("/v1/analyses/archive", content=b"x",
                        headers={**headers, "Content-Type": "text/plain"})  # fmt: skip
    _is_problem(wrong, 415)
    # Bytes, whatever they are called, must be a gzip, tar or zip archive: the first bytes say.
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        archive.addfile(tarfile.TarInfo("empty.py"), io.BytesIO())
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("calc.py", "x = 1\n")
    bodies = {gzip.compress(tar.getvalue()): 202, tar.getvalue(): 202, packed.getvalue(): 202,
              b"just some text, not an archive" * 20: 415, b"": 415}  # fmt: skip
    for kind in ("application/octet-stream", "application/gzip", "application/zip"):
        for body, status in bodies.items():
            sent = client.post("/v1/analyses/archive", content=body,
                               headers={**headers, "Content-Type": kind})  # fmt: skip
            if status == 202:
                assert sent.status_code == 202, sent.text
            else:
                assert "archive" in str(_is_problem(sent, 415)["detail"])
    monkeypatch.setattr(analyses, "MAX_ARCHIVE_BYTES", 10)
    big = client.post("/v1/analyses/archive", content=b"x" * 100,
                      headers={**headers, "Content-Type": "application/gzip"})  # fmt: skip
    _is_problem(big, 413)


def test_a_report_before_the_analysis_finishes_is_409(world: tuple[TestClient, World]) -> None:
    client, data = world
    queued = data.acme_analyses[0].id
    _is_problem(client.get(f"/v1/analyses/{queued}/report", headers=data.auth(data.reader)), 409)


def test_the_worker_requeues_what_a_stopped_server_left_running_then_gives_up(
    tmp_path: Path,
) -> None:
    from assay.analysis.local_worker import INTERRUPTED, MAX_ATTEMPTS, RESUMING, AnalysisWorker

    settings = load_settings(home=tmp_path)
    ports = build_ports(settings)
    data = World(ports)
    worker = AnalysisWorker(settings, ports)
    analysis = data.acme_analyses[0]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        running = ports.records.update(analysis.evolve(status=AnalysisStatus.RUNNING))
        assert worker.recover() == 1
        analysis = ports.records.get(Analysis, data.acme.id, running.id)  # type: ignore[assignment]
        assert analysis.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert (analysis.status, analysis.reason) == (AnalysisStatus.QUEUED, RESUMING)
    assert (analysis.status, analysis.reason) == (AnalysisStatus.FAILED, INTERRUPTED)
    assert worker.recover() == 0
    ports.close()


def _events(text: str) -> list[tuple[str, str]]:
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields.get("id", ""), fields["event"]))
    return found


def test_events_stream_as_sse_and_resume(world: tuple[TestClient, World]) -> None:
    from assay.records import AnalysisEvent

    client, data = world
    analysis = data.acme_analyses[0]
    for seq, kind in enumerate(["intake", "detect", "baseline", "report"], start=1):
        data.ports.records.create(AnalysisEvent(tenant_id=data.acme.id, analysis_id=analysis.id,
                                                seq=seq, type=kind, data={"n": seq}))  # fmt: skip
    data.ports.records.update(analysis.evolve(status=AnalysisStatus.SUCCEEDED))
    headers = data.auth(data.reader)
    full = client.get(f"/v1/analyses/{analysis.id}/events", headers=headers)
    assert full.headers["content-type"].startswith("text/event-stream")
    assert _events(full.text) == [("1", "intake"), ("2", "detect"), ("3", "baseline"),
                                  ("4", "report"), ("", "end")]  # fmt: skip
    resumed = client.get(f"/v1/analyses/{analysis.id}/events",
                         headers={**headers, "Last-Event-ID": "2"})  # fmt: skip
    assert _events(resumed.text) == [("3", "baseline"), ("4", "report"), ("", "end")]
    assert '"n": 3' in resumed.text
    other = client.get(f"/v1/analyses/{data.globex_analysis.id}/events", headers=headers)
    _is_problem(other, 404)


def test_each_key_is_rate_limited_with_retry_after(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, api_rate_limit=3)
    ports = build_ports(settings)
    data = World(ports)
    with TestClient(create_app(ports), raise_server_exceptions=False) as client:
        codes = [client.get("/v1/analyses", headers=data.auth(data.reader)).status_code
                 for _ in range(4)]  # fmt: skip
        limited = client.get("/v1/analyses", headers=data.auth(data.reader))
        other_key = client.get("/v1/analyses", headers=data.auth(data.globex_key))
    ports.close()
    assert codes == [200, 200, 200, 429]
    _is_problem(limited, 429)
    # A sliding window may need most of two windows to slide the burst out.
    assert 1 <= int(limited.headers["retry-after"]) <= 120
    assert limited.headers["ratelimit-limit"] == "3"
    assert other_key.status_code == 200  # limits are per key


def test_oversized_json_bodies_are_413(world: tuple[TestClient, World]) -> None:
    client, data = world
    huge = b'{"source": "https://x/y.git", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/v1/analyses", content=huge, headers={
        **data.auth(_writer(data)), "Content-Type": "application/json"})  # fmt: skip
    _is_problem(response, 413)


def test_queued_and_running_analyses_cancel_finished_ones_do_not(
    world: tuple[TestClient, World],
) -> None:
    client, data = world
    headers = data.auth(_writer(data))
    queued, running, done = data.acme_analyses
    data.ports.records.update(running.evolve(status=AnalysisStatus.RUNNING))
    data.ports.records.update(done.evolve(status=AnalysisStatus.SUCCEEDED))
    for analysis in (queued, running):
        cancelled = client.post(f"/v1/analyses/{analysis.id}/cancel", headers=headers)
        assert cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["reason"].startswith("cancelled by ")
    assert client.post(f"/v1/analyses/{queued.id}/cancel", headers=headers).status_code == 200
    _is_problem(client.post(f"/v1/analyses/{done.id}/cancel", headers=headers), 409)
    theirs = client.post(f"/v1/analyses/{data.globex_analysis.id}/cancel", headers=headers)
    _is_problem(theirs, 404)


def test_admin_routes_manage_keys_and_tenants_within_bounds(
    world: tuple[TestClient, World],
) -> None:
    from assay.api.bootstrap import bootstrap

    client, data = world
    acme_admin = tenancy.issue_key(data.ports.records, data.acme, "a", [Scope.ADMIN]).key
    made = client.post("/v1/keys", json={"name": "ci", "scopes": ["analyses:read"]},
                       headers=data.auth(acme_admin))  # fmt: skip
    assert made.status_code == 201
    new_key = made.json()["key"]
    assert made.headers["cache-control"] == "no-store"
    assert client.get("/v1/analyses", headers=data.auth(new_key)).status_code == 200
    listed = client.get("/v1/keys", headers=data.auth(acme_admin)).json()
    assert new_key not in str(listed)
    assert made.json()["id"] in {k["id"] for k in listed}
    # Another tenant's admin cannot revoke it; its own admin can.
    foreign = client.delete(f"/v1/keys/{made.json()['id']}", headers=data.auth(data.globex_key))
    _is_problem(foreign, 404)
    revoked = client.delete(f"/v1/keys/{made.json()['id']}", headers=data.auth(acme_admin))
    assert revoked.json()["active"] is False
    _is_problem(client.post("/v1/keys", json={"name": "x", "scopes": []},
                            headers=data.auth(acme_admin)), 422)  # fmt: skip
    # Tenants are for admins of the default tenant only.
    _is_problem(client.get("/v1/tenants", headers=data.auth(acme_admin)), 403)
    platform = bootstrap(data.ports.records, None).new_key
    assert platform is not None
    created = client.post("/v1/tenants", json={"name": "Initech"}, headers=data.auth(platform))
    assert created.status_code == 201
    assert created.json()["slug"] == "initech"
    slugs = {t["slug"] for t in client.get("/v1/tenants", headers=data.auth(platform)).json()[
        "items"]}  # fmt: skip
    assert {"acme", "globex", "default", "initech"} <= slugs
    _is_problem(client.post("/v1/tenants", json={"name": "Initech"},
                            headers=data.auth(platform)), 409)  # fmt: skip


def _published(data: World) -> Analysis:
    """A finished analysis whose output, sealed with the server's key, is in the artifacts port."""
    from assay.analysis import outputs
    from assay.evidence import EvidenceLog
    from assay.wiring import make_signer

    out = data.ports.settings.home / "scratch-out"
    (out / "tests").mkdir(parents=True)
    (out / "tests" / "test_gen.py").write_text("def test_x():\n    assert 1\n")
    (out / "report.json").write_text('{"status": "succeeded"}')
    log = EvidenceLog(out, data.acme_analyses[2].id)
    log.append("select", {"kept": 1}, ["tests/test_gen.py"])
    log.seal(make_signer(data.ports.settings))
    outputs.publish(data.ports.blobs, data.acme.id, data.acme_analyses[2].id, out)
    return data.ports.records.update(data.acme_analyses[2].evolve(status=AnalysisStatus.SUCCEEDED))


def test_outputs_download_and_verify(world: tuple[TestClient, World]) -> None:
    import io
    import tarfile

    from assay.analysis import outputs

    client, data = world
    done, headers = _published(data), data.auth(data.reader)
    base = f"/v1/analyses/{done.id}"
    assert client.get(f"{base}/report", headers=headers).json() == {"status": "succeeded"}
    listed = {f["path"] for f in client.get(f"{base}/artifacts", headers=headers).json()}
    assert {"report.json", "tests/test_gen.py", "evidence/log.jsonl"} <= listed
    one = client.get(f"{base}/artifacts/tests/test_gen.py", headers=headers)
    assert one.content == b"def test_x():\n    assert 1\n"
    assert one.headers["content-disposition"] == 'attachment; filename="test_gen.py"'
    assert one.headers["content-type"] == "text/plain; charset=utf-8"
    report = client.get(f"{base}/artifacts/report.json", headers=headers)
    assert report.headers["content-type"] == "application/json"
    _is_problem(client.get(f"{base}/artifacts/tests/nope.py", headers=headers), 404)
    _is_problem(client.get(f"{base}/artifacts/..%2F..%2Fetc%2Fpasswd", headers=headers), 400)
    bundle = client.get(f"{base}/bundle", headers=headers)
    assert bundle.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(bundle.content)) as tar:
        assert "evidence/checkpoint.json" in tar.getnames()

    verdict = client.post(f"{base}/verify", headers=headers).json()
    assert verdict["ok"] is True
    assert verdict["trusted_key"] is True
    key = client.get("/v1/signing-key", headers=headers).json()
    assert verdict["key_id"] == key["key_id"]
    assert key["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")

    # Swap a kept test inside the stored bundle: verification names the broken entry.
    scratch = data.ports.settings.home / "tampered"
    outputs.unpack(outputs.bundle(data.ports.blobs, data.acme.id, done.id), scratch)
    (scratch / "tests" / "test_gen.py").write_text("def test_x():\n    assert 0\n")
    outputs.publish(data.ports.blobs, data.acme.id, done.id, scratch)
    tampered = client.post(f"{base}/verify", headers=headers).json()
    assert tampered["ok"] is False
    assert tampered["bad_entry"] == 1


def test_outputs_are_fenced_and_wait_for_the_end(world: tuple[TestClient, World]) -> None:
    client, data = world
    done = _published(data)
    theirs = data.auth(data.globex_key)
    for path in ("report", "artifacts", "artifacts/report.json", "bundle"):
        _is_problem(client.get(f"/v1/analyses/{done.id}/{path}", headers=theirs), 404)
    _is_problem(client.post(f"/v1/analyses/{done.id}/verify", headers=theirs), 404)
    queued = data.acme_analyses[0].id
    for path in ("artifacts", "bundle"):
        _is_problem(
            client.get(f"/v1/analyses/{queued}/{path}", headers=data.auth(data.reader)), 409
        )


def test_analyses_filter_by_creation_time_and_workspace(world: tuple[TestClient, World]) -> None:
    from datetime import UTC, datetime

    from ulid import ULID

    client, data = world
    made = {}
    for month in (1, 6, 9):
        at = datetime(2026, month, 1, tzinfo=UTC)
        made[month] = data.ports.records.create(Analysis(
            id=str(ULID.from_datetime(at)).lower(), tenant_id=data.acme.id,
            source="https://x/old.git", workspace_id="team-a" if month == 6 else "default",
        )).id  # fmt: skip
    headers = data.auth(data.reader)

    def ids(**params: str) -> list[str]:
        response = client.get("/v1/analyses", headers=headers, params={"limit": 1, **params})
        assert response.status_code == 200, response.text
        found, body = [], response.json()
        while True:
            found += [a["id"] for a in body["items"]]
            if body["next_cursor"] is None:
                return found
            body = client.get("/v1/analyses", headers=headers, params={
                "limit": 1, **params, "cursor": body["next_cursor"]}).json()  # fmt: skip

    assert ids(created_after="2026-03-01T00:00:00Z", created_before="2026-10-01T00:00:00Z") == [
        made[9], made[6]]  # fmt: skip
    assert ids(created_before="2026-06-01T00:00:00Z") == [made[1]]  # exclusive
    assert ids(created_after="2026-06-01T00:00:00Z", created_before="2026-07-01T00:00:00Z") == [
        made[6]]  # fmt: skip
    assert ids(workspace_id="team-a") == [made[6]]
    for bad in ("2026-01-01T00:00", "0.5", "yesterday"):  # no zone; a Unix time; prose
        response = client.get("/v1/analyses", headers=headers, params={"created_after": bad})
        _is_problem(response, 422)


def test_workspaces_are_created_by_admins_and_file_analyses(
    world: tuple[TestClient, World],
) -> None:
    client, data = world
    admin = data.auth(tenancy.issue_key(data.ports.records, data.acme, "a", [Scope.ADMIN]).key)
    made = client.post("/v1/workspaces", headers=admin, json={"id": "payments", "name": "Payments"})
    assert made.status_code == 201, made.text
    _is_problem(client.post("/v1/workspaces", headers=admin,
                            json={"id": "payments", "name": "Again"}), 409)  # fmt: skip
    _is_problem(client.post("/v1/workspaces", headers=admin,
                            json={"id": "default", "name": "No"}), 400)  # fmt: skip
    _is_problem(client.post("/v1/workspaces", headers=data.auth(data.reader),
                            json={"id": "x", "name": "X"}), 403)  # fmt: skip
    listed = client.get("/v1/workspaces", headers=data.auth(data.reader)).json()["items"]
    assert [w["id"] for w in listed] == ["payments"]
    filed = client.post("/v1/analyses", headers=admin,
                        json={"source": "https://x/y.git", "workspace_id": "payments"})  # fmt: skip
    assert filed.status_code == 202 and filed.json()["workspace_id"] == "payments"
    elsewhere = {"source": "https://x/y.git", "workspace_id": "nowhere"}
    nowhere = client.post("/v1/analyses", headers=admin, json=elsewhere)
    assert "POST /v1/workspaces" in str(_is_problem(nowhere, 404)["detail"])
    # Globex cannot see Acme's workspace, nor file analyses under it.
    theirs = data.auth(data.globex_key)
    _is_problem(client.get("/v1/workspaces/payments", headers=theirs), 404)
    filing = {"source": "https://x/y.git", "workspace_id": "payments"}
    _is_problem(client.post("/v1/analyses", headers=theirs, json=filing), 404)


def test_every_route_with_an_id_fences_tenants(world: tuple[TestClient, World]) -> None:
    """Acme's all-powerful key, given Globex's ids on every route that takes one: 404 each."""
    from assay.records import GatewayConnection, GatewayResource, RouteTarget, Workspace

    client, data = world
    records = data.ports.records
    records.create(Workspace(id="secret", tenant_id=data.globex.id, name="Secret"))
    connection = records.create(
        GatewayConnection(tenant_id=data.globex.id, name="c", provider="openai")
    )
    target = RouteTarget(connection_id=connection.id, model="m")
    records.create(GatewayResource(id="gx", tenant_id=data.globex.id, name="gx", targets=[target]))
    globex_key = tenancy.issue_key(records, data.globex, "k", [Scope.ADMIN]).record.id
    acme_admin = data.auth(tenancy.issue_key(records, data.acme, "a", [Scope.ADMIN]).key)
    from assay.evals import datasets
    from assay.evals.suite import Item
    from assay.records import EvalJudge, EvalRun

    datasets.save_version(
        records,
        data.ports.blobs,
        data.globex.id,
        "gx",
        [Item(id="1", input={"q": "x"})],
        source="upload:jsonl",
        actor="t",
    )
    records.create(EvalJudge(id="gx", tenant_id=data.globex.id, name="gx", model="gx",
                             evaluators=[{"name": "e", "type": "equals"}]))  # fmt: skip
    run = records.create(EvalRun(tenant_id=data.globex.id, suite_name="s", suite={},
                                 dataset_id="gx", dataset_version=1))  # fmt: skip
    ids = {"analysis_id": data.globex_analysis.id, "workspace_id": "secret",
           "key_id": globex_key, "path": "report.json", "connection_id": connection.id,
           "name": "gx", "run_id": run.id, "baseline_id": run.id, "version": 1,
           "file": "results.json"}  # fmt: skip
    checked = []
    for template, operations in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if "{" not in template:
            continue
        for method in operations:
            # These create or replace in the caller's own tenant: no B ids to give them.
            if method == "put" or template.endswith(("/upload", "/from-gateway")):
                continue
            # a valid change for PATCH: only the id is wrong
            body: dict[str, str] | None = {} if method == "patch" else None
            response = client.request(method, template.format(**ids), headers=acme_admin,
                                      json=body)  # fmt: skip
            assert response.status_code == 404, (method, template, response.text)
            checked.append(f"{method} {template}")
    assert len(checked) >= 10, checked
    assert records.get(Analysis, data.globex.id, data.globex_analysis.id).status == "queued"  # type: ignore[union-attr]
    assert tenancy.list_keys(records, data.globex)[-1].is_active()


def test_me_says_who_is_calling(world: tuple[TestClient, World]) -> None:
    from assay.api.bootstrap import bootstrap

    client, data = world
    reader = tenancy.issue_key(data.ports.records, data.acme, "r2", [Scope.ANALYSES_READ])
    me = client.get("/v1/me", headers=data.auth(reader.key)).json()
    assert me == {"tenant_id": data.acme.id, "tenant_name": "Acme", "tenant_slug": "acme",
                  "actor": reader.record.id, "scopes": ["analyses:read"],
                  "platform_admin": False}  # fmt: skip
    platform = bootstrap(data.ports.records, None).new_key
    assert platform is not None
    assert client.get("/v1/me", headers=data.auth(platform)).json()["platform_admin"] is True
    _is_problem(client.get("/v1/me"), 401)


def test_the_audit_log_records_admin_changes_per_tenant(world: tuple[TestClient, World]) -> None:
    client, data = world
    admin = tenancy.issue_key(data.ports.records, data.acme, "a", [Scope.ADMIN])
    headers = data.auth(admin.key)
    connection_in = {"name": "upstream", "base_url": "http://127.0.0.1:9/v1",
                     "api_key": "sk-secret-value"}  # fmt: skip
    made = client.post("/v1/gateway/connections", headers=headers, json=connection_in)
    assert made.status_code == 201, made.text
    connection = made.json()["id"]
    put = client.put("/v1/gateway/resources/chat", headers=headers,
                     json={"targets": [{"connection_id": connection, "model": "m1"}]})  # fmt: skip
    assert put.status_code == 200, put.text
    assert client.post("/v1/workspaces", headers=headers,
                       json={"id": "team-a", "name": "Team A"}).status_code == 201  # fmt: skip

    entries = client.get("/v1/audit", headers=headers).json()["items"]
    actions = [e["action"] for e in entries]
    # Newest first; creating the admin key itself is the oldest.
    assert actions[:3] == ["workspace.create", "gateway.resource.put",
                           "gateway.connection.create"]  # fmt: skip
    assert all(e["actor"] == admin.record.id for e in entries[:3])
    assert "sk-secret-value" not in str(entries)  # credentials never reach the log
    only = client.get("/v1/audit", params={"action": "gateway.resource.put"}, headers=headers)
    assert [e["target"] for e in only.json()["items"]] == ["chat"]
    # Another tenant sees none of it; non-admins may not look.
    foreign = client.get("/v1/audit", headers=data.auth(data.globex_key)).json()["items"]
    assert "gateway.resource.put" not in {e["action"] for e in foreign}
    _is_problem(client.get("/v1/audit", headers=data.auth(data.reader)), 403)


def test_cross_origin_browsers_are_allowed_only_from_configured_origins(tmp_path: Path) -> None:
    ports = build_ports(load_settings(home=tmp_path, cors_origins="https://console.example.com/"))
    key = tenancy.issue_key(ports.records, tenancy.create_tenant(ports.records, "Acme"), "r",
                            [Scope.ANALYSES_READ]).key  # fmt: skip
    with TestClient(create_app(ports)) as client:
        preflight = client.options("/v1/analyses", headers={
            "Origin": "https://console.example.com", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})  # fmt: skip
        assert preflight.status_code == 200  # answered before authentication
        assert preflight.headers["access-control-allow-origin"] == "https://console.example.com"
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        listed = client.get("/v1/analyses", headers={"Origin": "https://console.example.com",
                                                     "Authorization": f"Bearer {key}"})  # fmt: skip
        assert listed.headers["access-control-allow-origin"] == "https://console.example.com"
        assert "location" in listed.headers["access-control-expose-headers"].lower()
        other = client.options("/v1/analyses", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})  # fmt: skip
        assert "access-control-allow-origin" not in other.headers
    ports.close()


def test_output_files_are_served_as_one_of_the_four_documented_types() -> None:
    from assay.api.routes.analyses import artifact_type

    assert artifact_type("report.json", b'{"status": "succeeded"}') == "application/json"
    assert artifact_type("tests/fixture.json", b"{not json") == "text/plain; charset=utf-8"
    assert artifact_type("summary.md", b"# Summary\n") == "text/markdown; charset=utf-8"
    assert artifact_type("tests/app.test.ts", b"test('x', () => {})") == "text/plain; charset=utf-8"
    assert artifact_type("evidence/log.jsonl", b'{"seq": 1}\n') == "text/plain; charset=utf-8"
    assert artifact_type("coverage.db", b"\xff\xfe\x00") == "application/octet-stream"


def test_a_private_repository_s_credentials_are_sealed_never_stored_or_shown(
    world: tuple[TestClient, World], tmp_path: Path
) -> None:
    from assay.records.analyses import git_credential

    client, data = world
    body = {"source": "https://bob:s3cr3t-pw@git.example/org/repo.git", "engine": "offline"}
    made = client.post("/v1/analyses", json=body, headers=data.auth(_writer(data)))
    assert made.status_code == 202, made.text
    assert made.json()["source"] == "https://git.example/org/repo.git"
    listed = client.get("/v1/analyses", headers=data.auth(data.reader))
    assert "s3cr3t" not in made.text + listed.text
    record = data.ports.records.get(Analysis, data.acme.id, made.json()["id"])
    assert record is not None and record.sealed_credentials is not None
    opened = git_credential(record, data.ports.vault)
    assert opened is not None and opened.get_secret_value() == "bob:s3cr3t-pw"
    for path in tmp_path.rglob("*"):  # the database, the blobs: sealed, never in the clear
        assert not path.is_file() or b"s3cr3t" not in path.read_bytes(), path
    # Cancelled while queued (the worker never runs it): the sealed credentials go too.
    cancelled = client.post(f"/v1/analyses/{record.id}/cancel", headers=data.auth(_writer(data)))
    assert cancelled.json()["status"] == "cancelled"
    after = data.ports.records.get(Analysis, data.acme.id, record.id)
    assert after is not None and after.sealed_credentials is None


def test_a_summary_of_coverage_never_measured_reads_null_not_100(
    world: tuple[TestClient, World],
) -> None:
    from assay.records import AnalysisStatus, AnalysisSummary
    from assay.runtimes.coverage import CoverageMap

    client, data = world
    nothing = CoverageMap().summary().model_dump()  # a run that failed before its baseline
    report = {"coverage": {"before": nothing, "after": nothing}, "funnel": {"kept": 0},
              "findings": [], "cost": {"usd": 0.0}}  # fmt: skip
    failed = data.ports.records.update(
        data.acme_analyses[0].evolve(
            status=AnalysisStatus.FAILED, reason="the host does not resolve",
            summary=AnalysisSummary.of(report),
        )
    )  # fmt: skip
    got = client.get(f"/v1/analyses/{failed.id}", headers=data.auth(data.reader)).json()
    summary = got["summary"]
    assert summary["line_pct_before"] is None and summary["line_pct_after"] is None
    assert summary["branch_pct_before"] is None and summary["branch_pct_after"] is None
