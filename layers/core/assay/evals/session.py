"""An eval run from the command line, end to end: load and check everything before any model
is called (the suite, the dataset, the baseline, that every model it names exists), then run,
compare, gate, and write the sealed output directory."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from assay.config import Settings, is_yaml, read_yaml, secret_value
from assay.errors import ValidationFailed
from assay.evals.calibrate import Calibration, Label
from assay.evals.calibrate import calibrate as calibrate_judge
from assay.evals.compare import Comparison, compare
from assay.evals.evaluators import Observed, Score
from assay.evals.judges import (
    AnyJudge,
    Completer,
    Judging,
    LlmJudge,
    MemoryJudgeCache,
    PairwiseJudge,
    PanelJudge,
    SqliteJudgeCache,
)
from assay.evals.outputs import read_results, write_run
from assay.evals.results import ItemResult, Results
from assay.evals.runner import run
from assay.evals.suite import Item, Suite, load_suite
from assay.evals.target import release
from assay.evidence.canonical import file_digest
from assay.wiring import Ports


class Prepared(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    suite: Suite
    items: list[Item]
    suite_file: Path
    completer: Any  # a Completer
    settings: Settings
    baseline: Results | None = None
    baseline_name: str = ""


class Outcome(BaseModel):
    results: Results
    comparison: Comparison | None = None
    gate_reasons: list[str]


def pick_judge(suite: Suite, name: str | None) -> AnyJudge:
    judges = [e for e in suite.evaluators if isinstance(e, LlmJudge | PairwiseJudge | PanelJudge)]
    chosen = [j for j in judges if name is None or j.name == name]
    if not chosen:
        known = ", ".join(j.name for j in judges) or "none"
        raise ValidationFailed(f"the suite has no judge {name!r} (its judges: {known})")
    return chosen[0]


def _baseline(settings: Settings, reference: str) -> tuple[Results, str]:
    path = Path(reference).expanduser()
    if not path.exists():
        path = settings.home / "evals" / reference
    try:
        found = read_results(path)
    except (OSError, ValueError) as exc:
        raise ValidationFailed(f"the baseline {reference} is not a run's results: "
                               f"{str(exc).splitlines()[0][:200]}") from None  # fmt: skip
    return found, found.run_id or reference


def prepare(
    settings: Settings, suite_file: Path, *, baseline: str | None = None,
    server: str | None = None, ports: Ports | None = None, config_file: Path | None = None,
    judge_only: str = "",
) -> Prepared:  # fmt: skip
    """Everything a run needs, or ValidationFailed before any model is called."""
    suite, items = load_suite(suite_file)
    before, name = _baseline(settings, baseline) if baseline else (None, "")
    wanted = suite.models(judge_only)
    completer: Completer
    if server:
        completer = _remote(settings, server, wanted)
    else:
        assert ports is not None
        completer = _local(settings, ports, wanted, config_file)
    return Prepared(suite=suite, items=items, suite_file=suite_file, completer=completer,
                    settings=settings, baseline=before,
                    baseline_name=name)  # fmt: skip


def _remote(settings: Settings, server: str, wanted: list[str]) -> Completer:
    import httpx

    from assay.evals.target import HttpGateway

    if settings.api_key is None:
        raise ValidationFailed("--server needs an API key", fix="set ASSAY_API_KEY")
    key = settings.api_key.get_secret_value()
    try:
        listed = httpx.get(server.rstrip("/") + "/v1/models",
                           headers={"authorization": f"Bearer {key}"}, timeout=30)  # fmt: skip
    except httpx.HTTPError as exc:
        raise ValidationFailed(f"cannot reach {server}: {exc}") from None
    if listed.status_code != 200:
        raise ValidationFailed(f"{server} refused to list its models ({listed.status_code}): "
                               f"{listed.text[:200]}")  # fmt: skip
    known = {m.get("id") for m in listed.json().get("data", []) if isinstance(m, dict)}
    missing = [m for m in wanted if m not in known]
    if missing:
        raise ValidationFailed(
            f"the gateway at {server} has no model {', '.join(missing)}",
            fix="create the resources, or fix the suite's model names",
        )
    return HttpGateway(server, key)


def _local(
    settings: Settings, ports: Ports, wanted: list[str], config_file: Path | None
) -> Completer:
    """This machine's gateway, as the default tenant: the models named in `--config`'s
    `model_list`, the tenant's gateway resources, and (for other names) the OpenAI-compatible
    server in ASSAY_OPENAI_API_BASE."""
    from assay.api.bootstrap import ensure_default_tenant
    from assay.evals.target import InProcessGateway
    from assay.gateway import litellm_config
    from assay.gateway.errors import GatewayError
    from assay.gateway.service import Caller
    from assay.gateway.wiring import build_gateway

    tenant = ensure_default_tenant(ports.records)
    deployments = []
    if config_file is not None and is_yaml(config_file):
        model_list = read_yaml(config_file).get("model_list")
        if model_list is not None:
            deployments = litellm_config.parse(model_list)
    gateway = build_gateway(ports)
    missing = []
    named = {d.model_name for d in deployments}
    for model in wanted:
        if model in named:
            continue
        try:
            gateway.catalog.resolve(tenant.id, model)
        except GatewayError:
            missing.append(model)
    if missing and not settings.openai_api_base:
        raise ValidationFailed(
            f"no gateway model {', '.join(missing)}",
            fix="name them in --config's model_list, create gateway resources, or set "
            "ASSAY_OPENAI_API_BASE to an OpenAI-compatible server that serves them",
        )
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    for model in missing:  # reached through ASSAY_OPENAI_API_BASE, as `openai/<model>`
        deployments.append(litellm_config.Deployment.model_validate({"model_name": model,
            "litellm_params": {"model": f"openai/{model}", "api_base": settings.openai_api_base,
                               **({"api_key": key} if key else {})}}))  # fmt: skip
    if deployments:
        litellm_config.apply(ports.records, ports.vault, tenant.id, deployments, secret_value)
    return InProcessGateway(gateway, Caller(tenant_id=tenant.id, actor="cli:eval"))


def _sources(prepared: Prepared) -> dict[str, Any]:
    dataset = prepared.suite_file.parent / prepared.suite.dataset
    return {
        "suite": prepared.suite.name, "suite_file": prepared.suite_file.name,
        "suite_sha256": file_digest(prepared.suite_file.resolve()),
        "dataset": prepared.suite.dataset, "dataset_sha256": file_digest(dataset.resolve()),
        "items": len(prepared.items),
        "model": prepared.suite.target.model,
        "definition_sha256": hashlib.sha256(prepared.suite.model_dump_json().encode()).hexdigest(),
    }  # fmt: skip


def code_scorer(
    prepared: Prepared,
) -> Callable[[Any, Sequence[tuple[Observed, Item]]], list[Score]]:
    """Code evaluators in this machine's sandbox, one job per batch."""
    from assay.evals import code_evaluator
    from assay.wiring import make_sandbox

    sandbox = make_sandbox(prepared.settings)

    def score(evaluator: Any, cases: Sequence[tuple[Observed, Item]]) -> list[Score]:
        source = evaluator.load_source(prepared.suite_file.parent)
        found = [(o, i.model_dump(mode="json")) for o, i in cases]
        return code_evaluator.score_batch(sandbox, evaluator, source, found)

    return score


def _judging(prepared: Prepared, cache: bool) -> Judging:
    store = (SqliteJudgeCache(prepared.settings.home / "evals" / "judge-cache.sqlite")
             if cache else MemoryJudgeCache())  # fmt: skip
    return Judging(prepared.completer, store)


async def execute(
    prepared: Prepared, *, run_id: str, out: Path, concurrency: int = 8, cache: bool = True,
    fail_on_regression: bool = False, min_pass_rate: float | None = None,
    on_item: Callable[[ItemResult | None], None] | None = None,
) -> Outcome:  # fmt: skip
    from assay.wiring import make_signer

    suite = prepared.suite
    uses_code = any(getattr(e, "type", "") == "python" for e in suite.evaluators)
    baseline = {r.id: r.output for r in prepared.baseline.items if r.output is not None} \
        if prepared.baseline else {}  # fmt: skip
    try:
        results = await run(
            suite, prepared.items, prepared.completer, judging=_judging(prepared, cache),
            concurrency=concurrency, code_scorer=code_scorer(prepared) if uses_code else None,
            baseline=baseline, on_item=on_item,
        )  # fmt: skip
    finally:
        await release(prepared.completer)
    results = results.model_copy(update={"run_id": run_id})
    reasons = [f"{'held' if results.gate_held else 'failed'}: {results.gate}"]
    comparison = None
    if prepared.baseline is not None:
        comparison = compare(results, prepared.baseline, prepared.baseline_name)
        if fail_on_regression and comparison.regressions:
            results.gate_held = False
            reasons.append(f"failed: {len(comparison.regressions)} items regressed against "
                           f"{prepared.baseline_name}")  # fmt: skip
    if min_pass_rate is not None:
        rate = results.summary.pass_rate
        held = rate >= min_pass_rate
        results.gate_held = results.gate_held and held
        reasons.append(f"{'held' if held else 'failed'}: pass rate {rate:.3f} "
                       f"{'>=' if held else '<'} {min_pass_rate}")  # fmt: skip
    results.gate = "; ".join(reasons)
    signer = make_signer(prepared.settings)
    write_run(out, results, signer, sources=_sources(prepared), comparison=comparison)
    return Outcome(results=results, comparison=comparison, gate_reasons=reasons)


async def calibrate(prepared: Prepared, judge: AnyJudge, labels: list[Label], *,
                    concurrency: int = 8) -> Calibration:  # fmt: skip
    judging = _judging(prepared, cache=True)
    try:
        return await calibrate_judge(judge, judging, labels, concurrency=concurrency)
    finally:
        await release(prepared.completer)
