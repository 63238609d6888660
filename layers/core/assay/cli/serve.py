"""`assay serve`: the HTTPS API on this machine (local profile)."""

from __future__ import annotations

from pathlib import Path

import click

from assay import console
from assay.analysis.local_worker import AnalysisWorker
from assay.api import create_app
from assay.api.bootstrap import bootstrap
from assay.cli.context import CliContext
from assay.config import is_yaml, read_yaml, secret_value
from assay.evals.worker import EvalWorker, sandboxed_scorer
from assay.gateway import litellm_config


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="ASSAY_NAME=value lines, or YAML with `settings:` and a LiteLLM-style `model_list:` "
    "(the environment wins over the file).",
)
@click.pass_obj
def serve(obj: CliContext, host: str, port: int, config_file: Path | None) -> None:
    """Serve the API. Prints the bootstrap admin key once, on the first start."""
    import uvicorn

    obj.config_file = config_file
    settings = obj.settings
    key = settings.bootstrap_api_key.get_secret_value() if settings.bootstrap_api_key else None
    started = bootstrap(obj.ports.records, key)
    if started.new_key:
        click.echo(f"admin key for tenant '{started.tenant.slug}' (shown once, store it now):")
        click.echo(started.new_key)
    if config_file is not None and is_yaml(config_file):
        model_list = read_yaml(config_file).get("model_list")
        if model_list is not None:
            applied = litellm_config.apply(
                obj.ports.records, obj.ports.vault, started.tenant.id,
                litellm_config.parse(model_list), secret_value,
            )  # fmt: skip
            click.echo(f"gateway: {applied['connections']} deployments, models "
                       f"{', '.join(applied['resources'])} (tenant '{started.tenant.slug}')",
                       err=True)  # fmt: skip
    worker = AnalysisWorker(settings, obj.ports, gateway_url=f"http://{_loopback(host)}:{port}")
    worker.start()  # first fails what a previous server left running, then runs the queue
    evaluator = EvalWorker(settings, obj.ports, code_scorer=sandboxed_scorer(settings))
    evaluator.start()
    click.echo(f"serving on http://{host}:{port}: the console at /, the API under /v1 "
               "(OpenAPI at /openapi.json)", err=True)  # fmt: skip
    app = create_app(obj.ports)
    console.mount(app, settings)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning",
                    access_log=False)  # fmt: skip
    finally:
        worker.stop()
        evaluator.stop()


def _loopback(host: str) -> str:
    """Where the worker reaches this server's own gateway."""
    return "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104 - a comparison
