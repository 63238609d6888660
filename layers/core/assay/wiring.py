"""The composition root: the one place that turns `Settings` into adapters.

Profiles differ only here. Everything else receives ports and never asks which profile it is in.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assay.blobs import BlobStore
from assay.config import Profile, Settings
from assay.limits import Limiter
from assay.store import RecordStore
from assay.vault import Vault

if TYPE_CHECKING:
    import boto3

    from assay.analysis.admission import Admission
    from assay.analysis.distributed import StepPorts
    from assay.engines import Engine
    from assay.evidence.signing import Signer
    from assay.launcher import EvalLauncher, Launcher
    from assay.sandbox import Sandbox
    from assay.sandbox.sessions import Sessions


@functools.cache
def _session(region: str | None) -> boto3.session.Session:
    """One session for all clients: it loads botocore's endpoint data once, not per client."""
    import boto3

    return boto3.session.Session(region_name=region)


def _client(settings: Settings, service: str) -> Any:
    return _session(settings.aws_region).client(service, endpoint_url=settings.aws_endpoint_url)  # type: ignore[call-overload]


def make_records(settings: Settings) -> RecordStore:
    if settings.profile is Profile.AWS:
        from assay.store.dynamodb import DynamoStore

        assert settings.aws_region is not None  # guaranteed by Settings validation
        return DynamoStore(
            settings.table_name, region=settings.aws_region, endpoint_url=settings.aws_endpoint_url
        )
    from assay.store.sqlite import SqliteStore

    return SqliteStore(settings.database_path, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


def make_blobs(settings: Settings) -> BlobStore:
    if settings.profile is Profile.AWS:
        from assay.blobs.s3 import S3BlobStore

        assert settings.artifacts_bucket is not None
        return S3BlobStore(settings.artifacts_bucket, _client(settings, "s3"))
    from assay.blobs.filesystem import FileBlobStore

    return FileBlobStore(settings.artifacts_dir)


def make_vault(settings: Settings) -> Vault:
    if settings.profile is Profile.AWS:
        from assay.vault.kms import KmsVault

        assert settings.kms_key_id is not None
        return KmsVault(settings.kms_key_id, _client(settings, "kms"))
    from assay.vault.local import LocalVault

    return LocalVault(settings.key_file)


def make_limiter(settings: Settings) -> Limiter:
    if settings.redis_url:
        from assay.limits.redis import RedisLimiter

        return RedisLimiter(settings.redis_url)
    from assay.limits.memory import MemoryLimiter

    return MemoryLimiter()


def make_signer(settings: Settings) -> Signer:
    if settings.profile is Profile.AWS and settings.signing_key_id:
        from assay.evidence.signers import KmsSigner

        return KmsSigner(settings.signing_key_id, _client(settings, "kms"))
    from assay.evidence.signers import LocalSigner

    return LocalSigner(settings.signing_key_file)


def make_engine(
    settings: Settings, engine: str = "auto", model: str | None = None, *,
    api_base: str | None = None, api_key: str | None = None,
) -> Engine:  # fmt: skip
    """The test generator an analysis asked for: `auto` is the LLM engine when a model is
    given or configured, else the offline one (Pynguin). `api_base`/`api_key` point the LLM
    engine elsewhere than the settings do (the local server's own gateway)."""
    from assay.errors import ValidationFailed

    model = model or settings.model
    if engine == "auto":
        engine = "llm" if model else "offline"
    if engine == "llm":
        if not model:
            raise ValidationFailed(
                "--engine llm needs a model",
                fix="pass --model openai/NAME (or set ASSAY_MODEL)",
            )
        from assay.engines.llm import LlmEngine

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return LlmEngine(
            model, api_base=api_base or settings.openai_api_base, api_key=api_key or key
        )
    from assay.engines.offline import OfflineEngine

    return OfflineEngine()


def make_sandbox(settings: Settings, *, allow_unisolated: bool = False) -> Sandbox:
    """Fargate tasks in AWS (Lambda cannot make namespaces); the process sandbox here
    (`allow_unisolated`: run without isolation where this machine cannot isolate, on request)."""
    if settings.profile is Profile.AWS and settings.sandbox_state_machine_arn:
        from assay.sandbox.fargate import FargateSandbox, FargateTarget

        assert settings.artifacts_bucket is not None  # Settings checks it in the aws profile
        target = FargateTarget(
            state_machine=settings.sandbox_state_machine_arn,
            subnets=_listed(settings.sandbox_subnets),
            security_groups=_listed(settings.sandbox_security_groups),
            install_security_groups=_listed(settings.sandbox_install_security_groups),
            bucket=settings.artifacts_bucket,
        )
        return FargateSandbox(
            target, sfn=_client(settings, "stepfunctions"), s3=_client(settings, "s3"),
            prefix="tenants/system/sandbox",
        )  # fmt: skip
    from assay.sandbox.process import ProcessSandbox

    return ProcessSandbox(hidden=(settings.home,), allow_unisolated=allow_unisolated)


def make_sessions(settings: Settings, sandbox: Sandbox) -> Sessions:
    """Sandbox sessions: Fargate tasks the workflow starts, in AWS; else served in process
    by `sandbox` (the local runner's RunSession states)."""
    from assay.sandbox.sessions import LocalSessions

    if settings.profile is Profile.AWS and settings.sandbox_subnets:
        from assay.sandbox.fargate import FargateSessions, FargateTarget

        assert settings.artifacts_bucket is not None  # Settings checks it in the aws profile
        target = FargateTarget(
            subnets=_listed(settings.sandbox_subnets),
            security_groups=_listed(settings.sandbox_security_groups),
            install_security_groups=_listed(settings.sandbox_install_security_groups),
            bucket=settings.artifacts_bucket,
        )
        return FargateSessions(target, s3=_client(settings, "s3"))
    return LocalSessions(sandbox)


def make_package_index(settings: Settings) -> Callable[[], str] | None:
    """The index dependency installs read in AWS (CodeArtifact); None: the allow-list proxy."""
    if settings.profile is not Profile.AWS or not settings.package_repository:
        return None
    from assay.runtimes.package_index import CodeArtifactIndex

    domain, _, repository = settings.package_repository.partition("/")
    return CodeArtifactIndex(
        _client(settings, "codeartifact"), domain=domain, repository=repository,
        owner=settings.package_repository_owner or "",
    )  # fmt: skip


def _listed(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def make_eval_launcher(settings: Settings) -> EvalLauncher:
    """Eval runs: Step Functions in AWS when the eval machine is deployed, else the worker."""
    from assay.launcher import EvalLauncher

    if settings.profile is Profile.AWS and settings.eval_state_machine_arn:
        return EvalLauncher(settings.eval_state_machine_arn, _client(settings, "stepfunctions"))
    return EvalLauncher(None)


def make_launcher(settings: Settings, *, queued: bool = True) -> Launcher:
    """Who runs a submitted analysis: in AWS the queue the dispatcher admits from (or, with no
    queue or for the dispatcher itself, Step Functions at once); the server's worker locally."""
    if settings.profile is Profile.AWS and settings.analysis_queue_url and queued:
        from assay.launcher import SqsLauncher

        return SqsLauncher(settings.analysis_queue_url, _client(settings, "sqs"))
    if settings.profile is Profile.AWS and settings.state_machine_arn:
        from assay.launcher import StepFunctionsLauncher

        return StepFunctionsLauncher(settings.state_machine_arn, _client(settings, "stepfunctions"))
    from assay.launcher import QueuedLauncher

    return QueuedLauncher()


def make_admission(settings: Settings, records: RecordStore) -> Admission:
    """Admission of queued analyses (AWS): slots counted in the records, an execution's end
    asked of Step Functions."""
    from assay.analysis.admission import Admission, AdmissionPolicy

    machine = settings.state_machine_arn or ""
    executions = machine.replace(":stateMachine:", ":execution:")

    @functools.cache
    def stepfunctions() -> Any:
        """Built when first asked (reaping): the steps, which only give slots back, never."""
        return _client(settings, "stepfunctions")

    def ended(analysis_id: str) -> bool:
        client = stepfunctions()
        try:
            found = client.describe_execution(executionArn=f"{executions}:{analysis_id}")
        except client.exceptions.ExecutionDoesNotExist:
            return True
        return bool(found["status"] != "RUNNING")

    policy = AdmissionPolicy(
        max_running=settings.max_running_analyses,
        per_tenant=settings.tenant_max_running_analyses,
    )
    return Admission(records, policy, ended=ended)


def step_ports(ports: Ports) -> StepPorts:
    from assay.analysis.distributed import StepPorts

    return StepPorts(
        records=ports.records, blobs=ports.blobs, sandbox=ports.sandbox, signer=ports.signer,
        sessions=make_sessions(ports.settings, ports.sandbox),
        engine_for=lambda analysis: ports.engine(analysis.engine, analysis.model),
        vault=ports.vault,
        package_index=make_package_index(ports.settings),
        release=make_admission(ports.settings, ports.records).release
        if ports.settings.analysis_queue_url else None,
    )  # fmt: skip


class Ports:
    """The adapters for `settings`, each built on first use: a process that never touches one
    (the gateway never reads blobs) never pays for its client at cold start."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._built: dict[str, Any] = {}

    def _get(self, name: str, make: Any) -> Any:
        found = self._built.get(name)
        if found is None:
            with self._lock:
                found = self._built.get(name)
                if found is None:
                    found = self._built[name] = make(self.settings)
        return found

    @property
    def records(self) -> RecordStore:
        found: RecordStore = self._get("records", make_records)
        return found

    @property
    def blobs(self) -> BlobStore:
        found: BlobStore = self._get("blobs", make_blobs)
        return found

    @property
    def vault(self) -> Vault:
        found: Vault = self._get("vault", make_vault)
        return found

    @property
    def launcher(self) -> Launcher:
        found: Launcher = self._get("launcher", make_launcher)
        return found

    @property
    def eval_launcher(self) -> EvalLauncher:
        found: EvalLauncher = self._get("eval_launcher", make_eval_launcher)
        return found

    @property
    def limits(self) -> Limiter:
        found: Limiter = self._get("limits", make_limiter)
        return found

    @property
    def sandbox(self) -> Sandbox:
        found: Sandbox = self._get("sandbox", make_sandbox)
        return found

    @property
    def signer(self) -> Signer:
        """One per process: its public key (a KMS call in AWS) is read once."""
        found: Signer = self._get("signer", make_signer)
        return found

    def engine(
        self, engine: str = "auto", model: str | None = None, *,
        api_base: str | None = None, api_key: str | None = None,
    ) -> Engine:  # fmt: skip
        """A new engine per analysis: engines keep per-analysis state (cost seen so far)."""
        return make_engine(self.settings, engine, model, api_base=api_base, api_key=api_key)

    def build_all(self) -> None:
        for name, make in (("records", make_records), ("blobs", make_blobs),
                           ("vault", make_vault), ("limits", make_limiter)):  # fmt: skip
            self._get(name, make)

    def close(self) -> None:
        if "records" in self._built:
            self.records.close()
        if "limits" in self._built:
            self.limits.close()


def build_ports(settings: Settings, *, lazy: bool = False) -> Ports:
    """Every adapter built now (configuration errors surface at start), or on first use."""
    ports = Ports(settings)
    if not lazy:
        ports.build_all()
    return ports
