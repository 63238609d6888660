"""statemachines/eval-run.asl.json, the definition a million-item run uses in AWS, driven by
the local ASL runner on a small dataset with the same fields (ItemReader from the blob store,
ItemBatcher, ResultWriter, MaxConcurrencyPath, ToleratedFailurePercentage), its steps the real
`EvalSteps` reaching scripted models through the gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from assay import tenancy
from assay.config import load_settings
from assay.evals import datasets
from assay.evals.distributed import EvalSteps
from assay.evals.execution import execution_input
from assay.evals.suite import Item
from assay.evals.target import InProcessGateway
from assay.evidence import verify_dir
from assay.gateway.service import Caller
from assay.gateway.wiring import build_gateway
from assay.records import EvalRun, GatewayConnection, GatewayResource, RouteTarget
from assay.wiring import Ports, build_ports
from assay.workflow.asl import BlobObjects, ExecutionFailed, StateMachine
from tests.support.eval_models import EvalModels

COUNTRIES = ["France", "Japan", "Peru", "Kenya", "Chile", "Egypt"] * 10  # 60 items, 3 batches


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Ports, str, EvalModels]]:
    models = EvalModels()
    with models.serve() as upstream:
        ports = build_ports(load_settings(home=tmp_path))
        tenant = tenancy.create_tenant(ports.records, "Acme")
        connection = ports.records.create(
            GatewayConnection(
                tenant_id=tenant.id, name="scripted", provider="openai", base_url=upstream
            )
        )
        for name in ("capital-bot", "fair-judge"):
            ports.records.create(GatewayResource(
                id=name, tenant_id=tenant.id, name=name,
                targets=[RouteTarget(connection_id=connection.id, model=name)]))  # fmt: skip
        items = [Item(id=f"{i:03d}", input={"country": c}, expected=None)
                 for i, c in enumerate(COUNTRIES)]  # fmt: skip
        datasets.save_version(ports.records, ports.blobs, tenant.id, "capitals", items,
                              source="upload:jsonl", actor="test")  # fmt: skip
        try:
            yield ports, tenant.id, models
        finally:
            ports.close()


def _machine(ports: Ports, steps: EvalSteps) -> StateMachine:
    definition = json.loads((files("assay.workflow") / "eval-run.asl.json").read_text())
    return StateMachine(definition, steps.resources(), objects=BlobObjects(ports.blobs, "local"),
                        name="assay-eval-run")  # fmt: skip


def _steps(ports: Ports) -> EvalSteps:
    gateway = build_gateway(ports)

    def completer(tenant_id: str, actor: str) -> InProcessGateway:
        return InProcessGateway(gateway, Caller(tenant_id=tenant_id, actor=actor))

    return EvalSteps(ports.records, ports.blobs, ports.signer, completer)


def _run(ports: Ports, tenant_id: str) -> EvalRun:
    suite = {"name": "capitals", "target": {"model": "capital-bot", "messages": [
        {"role": "user", "content": "What is the capital of {{country}}?"}]},
        "evaluators": [{"name": "shape", "type": "regex", "pattern": "^[A-Z][a-z]+$"},
                       {"name": "judge", "type": "llm_judge", "model": "fair-judge",
                        "rubric": "A capital?"}]}  # fmt: skip
    return ports.records.create(EvalRun(tenant_id=tenant_id, suite_name="capitals", suite=suite,
                                        dataset_id="capitals", dataset_version=1,
                                        concurrency=2))  # fmt: skip


def test_the_distributed_map_scores_every_item_and_seals_the_results(
    world: tuple[Ports, str, EvalModels], tmp_path: Path
) -> None:
    ports, tenant_id, _ = world
    steps = _steps(ports)
    calls: list[int] = []
    batch = steps.score_batch

    def counted(event: dict[str, Any]) -> Any:
        assert set(event) == {"Items", "BatchInput"}
        calls.append(len(event["Items"]))
        return batch(event)

    steps.score_batch = counted  # type: ignore[method-assign]
    record = _run(ports, tenant_id)
    try:
        output = _machine(ports, steps).run(
            execution_input(ports.records, ports.blobs, record, "local")
        )
    except ExecutionFailed:
        failed = ports.records.get(EvalRun, tenant_id, record.id)
        raise AssertionError(failed.reason if failed else "no record") from None
    assert sorted(calls) == [10, 25, 25]  # ItemBatcher: 25 a batch
    assert output["summary"] == {"gate_held": True, "items": 60, "passed": 60}
    assert output["scored"]["ResultWriterDetails"]["Key"].endswith("/manifest.json")
    done = ports.records.get(EvalRun, tenant_id, record.id)
    assert done is not None and done.status == "succeeded" and done.summary
    assert done.summary["items"] == 60
    out = tmp_path / "downloaded"
    for key in ports.blobs.list(done.results_prefix or ""):
        relative = key.removeprefix(f"{done.results_prefix}/")
        if relative.startswith(("results", "junit", "summary", "evidence")):
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            (out / relative).write_bytes(ports.blobs.get(key))
    assert verify_dir(out).ok
    assert len(json.loads((out / "results.json").read_text())["items"]) == 60


def test_batches_failing_beyond_the_tolerance_fail_the_run_with_its_reason(
    world: tuple[Ports, str, EvalModels],
) -> None:
    ports, tenant_id, _ = world
    steps = _steps(ports)

    def broken(event: dict[str, Any]) -> Any:
        raise RuntimeError("the model host is down")

    steps.score_batch = broken  # type: ignore[method-assign]
    record = _run(ports, tenant_id)
    with pytest.raises(ExecutionFailed) as failed:
        _machine(ports, steps).run(execution_input(ports.records, ports.blobs, record, "local"))
    assert failed.value.error == "Assay.EvalRunFailed"
    done = ports.records.get(EvalRun, tenant_id, record.id)
    assert done is not None and done.status == "failed"
    assert "ExceedToleratedFailureThreshold" in (done.reason or "")
