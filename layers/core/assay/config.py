"""Configuration: the one place that reads the environment.

Every other module receives a `Settings` (or values taken from it); none calls `os.environ`.
Each field documents itself; README's settings table is generated from these fields and a test
keeps the two in agreement.
"""

from __future__ import annotations

import os
import warnings
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from assay.errors import ConfigError


class Profile(StrEnum):
    LOCAL = "local"
    AWS = "aws"


class Settings(BaseSettings):
    """Assay's settings: each field is read from `ASSAY_<FIELD>` unless an alias says otherwise."""

    model_config = SettingsConfigDict(
        env_prefix="ASSAY_",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    profile: Profile = Field(
        default=Profile.LOCAL,
        description="`local` (embedded stores on this machine) or `aws` "
        "(DynamoDB, S3, KMS, Redis).",
    )
    home: Path = Field(
        default=Path("~/.assay"),
        description="Local profile: directory holding the SQLite file, artifacts and the key file.",
    )
    log_level: str = Field(default="INFO", description="Log level: DEBUG, INFO, WARNING, ERROR.")
    redis_url: str | None = Field(
        default=None,
        description="Redis for counters and limits, e.g. `redis://127.0.0.1:6379/0`. "
        "Local profile: unset means in-memory. Required in the aws profile.",
    )
    sqlite_busy_timeout_ms: Annotated[int, Field(ge=0, le=600_000)] = Field(
        default=5000,
        description="Local profile: how long a write waits for another process's lock.",
    )
    aws_region: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ASSAY_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
        description="AWS region (also read from `AWS_REGION` / `AWS_DEFAULT_REGION`). "
        "Required in the aws profile.",
    )
    aws_endpoint_url: str | None = Field(
        default=None,
        description="Override the AWS endpoint (for local emulators); normally unset.",
    )
    table_name: str = Field(default="assay", description="aws profile: the DynamoDB table.")
    artifacts_bucket: str | None = Field(
        default=None, description="aws profile: the S3 bucket for artifacts. Required there."
    )
    signing_key_id: str | None = Field(
        default=None,
        description="aws profile: KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY) that signs "
        "evidence checkpoints. Local profile: an Ed25519 key file under ASSAY_HOME/keys.",
    )
    kms_key_id: str | None = Field(
        default=None,
        description="aws profile: KMS key (id, ARN or alias) for envelope encryption. "
        "Required there.",
    )

    sandbox_state_machine_arn: str | None = Field(
        default=None,
        description="aws profile: the sandbox-job state machine (one Fargate task per job).",
    )
    sandbox_subnets: str = Field(
        default="", description="aws profile: comma-separated subnets for sandbox tasks."
    )
    sandbox_security_groups: str = Field(
        default="", description="aws profile: comma-separated security groups of sandbox tasks."
    )
    sandbox_install_security_groups: str = Field(
        default="",
        description="aws profile: security groups of install tasks (HTTPS to the package "
        "repository only); unset, dependency installs cannot run on Fargate.",
    )
    package_repository: str | None = Field(
        default=None,
        description="aws profile: CodeArtifact 'domain/repository' installs read from.",
    )
    package_repository_owner: str | None = Field(
        default=None, description="aws profile: the account owning the CodeArtifact domain."
    )
    state_machine_arn: str | None = Field(
        default=None,
        description="aws profile: the analysis state machine the API starts executions of.",
    )
    analysis_queue_url: str | None = Field(
        default=None,
        description="aws profile: the queue submissions wait in until the dispatcher admits "
        "them (unset: each submission starts its execution at once).",
    )
    max_running_analyses: int = Field(
        default=20, ge=1,
        description="aws profile: analyses running at once, at most (the account's Fargate "
        "capacity: each runs up to its Map's concurrency in tasks).",
    )  # fmt: skip
    tenant_max_running_analyses: int = Field(
        default=5, ge=1, description="aws profile: analyses one tenant runs at once, at most."
    )
    eval_state_machine_arn: str | None = Field(
        default=None,
        description="aws profile: the eval-run state machine the API starts runs on; unset, "
        "runs are executed by the server's own worker.",
    )
    model: str | None = Field(
        default=None,
        description="Default model for the llm engine, in LiteLLM's naming "
        "(`openai/gpt-4o-mini`, `anthropic/claude-...`, `ollama/...`). Unset: `auto` "
        "picks the offline engine.",
    )
    openai_api_base: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "ASSAY_OPENAI_API_BASE", "OPENAI_API_BASE", "OPENAI_BASE_URL"
        ),
        description="Base URL of an OpenAI-compatible server (also read from `OPENAI_API_BASE`).",
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ASSAY_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="Key for that server (also read from `OPENAI_API_KEY`).",
    )
    package_hosts: str = Field(
        default="pypi.org,files.pythonhosted.org,registry.npmjs.org,proxy.golang.org,"
        "sum.golang.org,index.crates.io,static.crates.io,repo.maven.apache.org,"
        "services.gradle.org,downloads.gradle.org,plugins.gradle.org,plugins-artifacts.gradle.org",
        description="Comma-separated hosts dependency installs may reach (HTTPS only, through "
        "Assay's proxy); add your registry mirror here.",
    )
    goproxy: str = Field(
        default="https://proxy.golang.org",
        description="Where Go module requirements are downloaded from (a GOPROXY list: your "
        "Athens, Artifactory or Nexus mirror, or file:///path for an air-gapped copy); an "
        "https mirror's host must be in ASSAY_PACKAGE_HOSTS.",
    )
    maven_mirror: SecretStr | None = Field(
        default=None,
        description="The Maven repository every pom's (and Gradle build's) dependencies and "
        "plugins are fetched from instead of Maven Central: your Artifactory, Nexus or "
        "CodeArtifact URL (credentials as https://user:token@host/path go into prepare's "
        "settings only, never a test run's; the project's own build runs at prepare and can "
        "read them, so use a read-only token), or file:///path for an air-gapped copy. An https "
        "mirror on port 443 is reached through the package egress (its host allowed); any "
        "other is reached directly, with the network. Unset: Maven Central, through the egress.",
    )
    cargo_registry: str = Field(
        default="",
        description="Where Rust crates are downloaded from instead of crates.io: a registry "
        "index URL (`sparse+https://mirror/index/`; its host and its download host must be in "
        "ASSAY_PACKAGE_HOSTS), or file:///path for an air-gapped copy (a local registry with "
        "index/ and .crate files, or a directory of vendored crates). Empty: crates.io.",
    )
    api_rate_limit: int = Field(
        default=600,
        ge=1,
        description="Requests per minute each API key may make (sliding window); more get 429.",
    )
    server: str | None = Field(
        default=None,
        description="`assay analyze`: submit to this Assay server (e.g. `https://assay.example`) "
        "instead of analyzing locally; needs ASSAY_API_KEY.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="The API key `assay analyze --server` authenticates with."
    )
    git_token: SecretStr | None = Field(
        default=None,
        description="`assay analyze` of a private git URL: a token (sent as the password of "
        "`x-access-token`) or `user:password`, used for the clone only and never written down. "
        "Credentials in the URL itself are used the same way and redacted everywhere.",
    )
    git_token_hosts: str = Field(
        default="github.com",
        description="Comma-separated hosts ASSAY_GIT_TOKEN is sent to; any other host gets no "
        "token (a URL's own credentials go only to its own host).",
    )
    bootstrap_api_key: SecretStr | None = Field(
        default=None,
        description="`assay serve`: make this key (shaped `assay_...`) a valid admin key of the "
        "default tenant. Unset: the first start creates one and prints it once.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="Accept JWTs from this OpenID Connect issuer (e.g. a Cognito user pool URL) "
        "besides API keys. Needs ASSAY_OIDC_AUDIENCE.",
    )
    oidc_audience: str | None = Field(
        default=None, description="The `aud` JWTs must carry (for Cognito: the app client id)."
    )
    oidc_algorithms: str = Field(
        default="RS256",
        description="Comma-separated JWT signing algorithms accepted; asymmetric ones only.",
    )
    oidc_jwks_url: str | None = Field(
        default=None,
        description="The issuer's JWKS URL. Unset: read from its OIDC discovery document.",
    )
    oidc_tenant_claim: str = Field(
        default="custom:tenant",
        description="The JWT claim naming the caller's tenant (slug or id).",
    )
    oidc_scopes_claim: str = Field(
        default="scope",
        description="The JWT claim listing the caller's Assay scopes (e.g. `analyses:read`).",
    )
    mutation_budget_s: float = Field(
        default=300.0,
        gt=0,
        le=840,
        description="Seconds the optional mutation stage (`--mutation`) may take; one step "
        "of the AWS workflow must finish within 15 minutes.",
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins (e.g. the console's https://d123.cloudfront.net) "
        "whose pages may call the API from a browser. Empty: same origin only.",
    )
    gateway_key_rpm: int | None = Field(
        default=None, ge=1, description="Gateway: requests per minute per API key (unset: none)."
    )
    gateway_key_tpm: int | None = Field(
        default=None, ge=1, description="Gateway: tokens per minute per API key (unset: none)."
    )
    gateway_tenant_tpm: int | None = Field(
        default=None, ge=1, description="Gateway: tokens per minute per tenant (unset: none)."
    )
    gateway_tenant_tpd: int | None = Field(
        default=None, ge=1, description="Gateway: tokens per day per tenant (unset: none)."
    )
    gateway_first_chunk_timeout_s: float = Field(
        default=60.0, gt=0, le=600,
        description="Gateway: a stream whose first chunk takes longer ends with an error frame.",
    )  # fmt: skip
    gateway_keepalive_s: float = Field(
        default=10.0, gt=0, le=300,
        description="Gateway: SSE keep-alive comments this often while the first chunk is due.",
    )  # fmt: skip
    gateway_max_wait_s: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="Gateway: how long a request over a limit may wait for capacity before 429.",
    )
    reruns: int = Field(
        default=3, ge=1, le=20, description="A candidate is reliable if it passes N of N reruns."
    )
    repair_turns: int = Field(
        default=2, ge=0, le=10, description="How often the llm engine may repair a candidate."
    )
    workers: int = Field(
        default_factory=lambda: max(1, os.cpu_count() or 1),
        ge=1,
        le=64,
        description="Candidates executed in parallel (default: the number of cores).",
    )

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("log_level", mode="after")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _oidc_needs(self) -> Settings:
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("ASSAY_OIDC_ISSUER needs ASSAY_OIDC_AUDIENCE")
        return self

    @model_validator(mode="after")
    def _sandbox_needs(self) -> Settings:
        if self.sandbox_state_machine_arn and not self.sandbox_subnets:
            raise ValueError("ASSAY_SANDBOX_STATE_MACHINE_ARN needs ASSAY_SANDBOX_SUBNETS")
        return self

    @model_validator(mode="after")
    def _aws_needs(self) -> Settings:
        if self.profile is Profile.AWS:
            missing = [
                env
                for env, value in (
                    ("AWS_REGION", self.aws_region),
                    ("ASSAY_ARTIFACTS_BUCKET", self.artifacts_bucket),
                    ("ASSAY_KMS_KEY_ID", self.kms_key_id),
                    ("ASSAY_REDIS_URL", self.redis_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"the aws profile needs {', '.join(missing)}")
        return self

    # Paths of the local profile, derived so there is exactly one place naming them.
    @cached_property
    def database_path(self) -> Path:
        return self.home / "assay.db"

    @cached_property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @cached_property
    def key_file(self) -> Path:
        return self.home / "keys" / "master.key"

    @cached_property
    def package_host_list(self) -> tuple[str, ...]:
        return tuple(h.strip() for h in self.package_hosts.split(",") if h.strip())

    @property
    def maven_mirror_url(self) -> str:
        """ASSAY_MAVEN_MIRROR as the runtimes take it ('' when unset)."""
        return self.maven_mirror.get_secret_value() if self.maven_mirror else ""

    @cached_property
    def git_token_host_list(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.git_token_hosts.split(",") if h.strip())

    @cached_property
    def cache_dir(self) -> Path:
        """Project environments (venvs) and the package cache, reused across analyses."""
        return self.home / "cache"

    @cached_property
    def analyses_dir(self) -> Path:
        return self.home / "analyses"

    @cached_property
    def signing_key_file(self) -> Path:
        return self.home / "keys" / "evidence-ed25519.pem"


def is_yaml(path: Path) -> bool:
    return path.suffix.lower() in {".yaml", ".yml"}


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML configuration file: `settings:` (ASSAY_NAME: value) and, for the gateway, a
    LiteLLM-proxy-style `model_list:`; LiteLLM's other sections are ignored."""
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path} is not readable YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping (settings:, model_list:)")
    return loaded


def secret_value(value: str) -> str:
    """LiteLLM's `os.environ/NAME` references, resolved here (the one reader of the
    environment); other values are literal."""
    if value.startswith("os.environ/"):
        name = value.removeprefix("os.environ/")
        if name not in os.environ:
            raise ConfigError(f"the configuration names {name}, which is not set")
        return os.environ[name]
    return value


def _yaml_settings(config_file: Path) -> dict[str, object]:
    section = read_yaml(config_file).get("settings") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{config_file}: `settings` must be a mapping of ASSAY_NAME: value")
    known = {f"ASSAY_{name.upper()}": name for name in Settings.model_fields}
    unknown = [str(k) for k in section if str(k).upper() not in known]
    if unknown:
        raise ConfigError(f"{config_file}: unknown settings {', '.join(unknown)}",
                          fix="see README, 'Settings', for the names")  # fmt: skip
    # The environment wins over the file, as for .env files.
    return {known[str(k).upper()]: v for k, v in section.items()
            if str(k).upper() not in os.environ}  # fmt: skip


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Read settings from the environment, then from `config_file` (lines of `ASSAY_NAME=value`
    as in a .env file, or YAML with a `settings:` mapping; the environment wins), validation
    errors becoming one `ConfigError`."""
    if config_file is not None and config_file.is_file() and is_yaml(config_file):
        overrides = {**_yaml_settings(config_file), **overrides}
    elif config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"no configuration file at {config_file}")
        unknown = _unknown_names(config_file)
        if unknown:
            raise ConfigError(
                f"{config_file}: unknown settings {', '.join(unknown)}",
                fix="see README, 'Settings', for the names",
            )
        overrides = {"_env_file": config_file, **overrides}
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["loc"]:
                where = ".".join(str(p) for p in err["loc"])
                problems.append(f"ASSAY_{where.upper()}: {message}")
            else:
                problems.append(message)
        raise ConfigError(
            "invalid configuration: " + "; ".join(problems),
            fix="set the variables named above (see README, 'Settings')",
        ) from None


def _unknown_names(config_file: Path) -> list[str]:
    """A misspelt name in a file would otherwise be ignored silently."""
    known = {f"ASSAY_{name.upper()}" for name in Settings.model_fields}
    known |= {"AWS_REGION", "AWS_DEFAULT_REGION", "OPENAI_API_BASE", "OPENAI_BASE_URL",
              "OPENAI_API_KEY"}  # fmt: skip
    found = []
    for line in config_file.read_text(encoding="utf-8", errors="replace").splitlines():
        name = line.strip().removeprefix("export ").split("=", 1)[0].strip()
        if name and not name.startswith("#") and name.upper() not in known:
            found.append(name)
    return found


def prepare_litellm() -> None:
    """LiteLLM fetches its model cost map over the network at import unless told not to."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    # LiteLLM's TypedDicts make pydantic warn at import; the warning is noise for our users.
    warnings.filterwarnings(
        "ignore", message=".*using the `ReadOnly` qualifier", category=UserWarning
    )
