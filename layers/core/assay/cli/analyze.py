"""`assay analyze TARGET`: find the gaps, generate tests, keep what holds, report and seal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from pydantic import SecretStr

from assay.analysis.options import AnalysisOptions
from assay.analysis.pipeline import new_analysis_id, run_analysis
from assay.analysis.report import coverage_line
from assay.cli.context import CliContext
from assay.cli.progress import Progress
from assay.config import Settings
from assay.errors import ValidationFailed
from assay.intake import IntakePolicy
from assay.intake.credentials import split_credentials
from assay.intake.snapshot import target_kind
from assay.wiring import make_sandbox


@click.command()
@click.argument("target")
@click.option(
    "--engine",
    type=click.Choice(["auto", "offline", "llm"]),
    default="auto",
    show_default=True,
    help="auto: llm when a model is configured, else offline (Pynguin).",
)
@click.option("--model", help="LiteLLM model name, e.g. openai/gpt-4o-mini.")
@click.option(
    "--budget",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds for the whole analysis; generation stops when it runs out.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write report.json, tests/, junit.xml, summary.md and the evidence.",
)
@click.option("--ref", help="Branch or tag to analyze (git targets).")
@click.option(
    "--mutation",
    is_flag=True,
    help="Also measure the kept tests' mutation score (Python: mutmut), within "
    "ASSAY_MUTATION_BUDGET_S.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Fail the analysis when the project's own tests do not run cleanly (files that "
    "cannot be collected, nothing passing).",
)
@click.option(
    "--include-entry-points",
    is_flag=True,
    help="Let the offline engine call main()-like functions (left out by default: they read "
    "stdin or argv, or end the process).",
)
@click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout.")
@click.option(
    "--unsafe-no-sandbox",
    is_flag=True,
    help="Run the target's code without isolation when this machine cannot isolate it.",
)
@click.option(
    "--server",
    help="Submit to this Assay server (default: ASSAY_SERVER) instead of analyzing here.",
)
@click.pass_obj
def analyze(
    obj: CliContext,
    target: str,
    engine: str,
    model: str | None,
    budget: float,
    out: Path | None,
    ref: str | None,
    mutation: bool,
    strict: bool,
    include_entry_points: bool,
    as_json: bool,
    unsafe_no_sandbox: bool,
    server: str | None,
) -> None:
    """Analyze TARGET (a directory, a git URL, or a .tar.gz/.zip archive)."""
    settings = obj.settings
    try:
        target_kind(target)  # a target that cannot be is a usage error: nothing is created
    except ValidationFailed as bad:
        click.secho(f"error: {bad.message}", fg="red", err=True)
        raise SystemExit(2) from None
    server = server or settings.server
    if server:
        if settings.api_key is None:
            raise click.UsageError("--server needs an API key: set ASSAY_API_KEY")
        from assay.cli.remote import analyze_remote

        report = analyze_remote(
            server, settings.api_key.get_secret_value(), target, engine=engine, model=model,
            budget_s=budget, ref=ref, out=out, progress=Progress(), mutation=mutation,
        )  # fmt: skip
        _print(report, out, as_json)
        if report.get("status") != "succeeded":
            raise SystemExit(1)
        return
    # A URL's credentials serve the clone only: the target stored and shown is without them.
    target, credential = split_credentials(target)
    analysis_id = new_analysis_id()
    destination = (out or settings.analyses_dir / analysis_id).expanduser()
    if destination.exists() and any(destination.iterdir()):
        raise click.UsageError(f"--out {destination} is not empty; choose a new directory")
    chosen = obj.ports.engine(engine, model)
    options = AnalysisOptions.from_settings(
        settings, analysis_id=analysis_id, target=target, ref=ref, engine=engine,
        model=chosen.model, budget_s=budget, mutation=mutation, strict=strict,
        include_entry_points=include_entry_points,
    )  # fmt: skip
    sandbox = make_sandbox(settings, allow_unisolated=unsafe_no_sandbox)
    progress = Progress(quiet=False)
    result = run_analysis(
        settings,
        options,
        records=obj.ports.records,
        sandbox=sandbox,
        engine=chosen,
        signer=obj.ports.signer,
        out=destination,
        progress=progress,
        intake_policy=IntakePolicy(git_credential=credential or token_for(target, settings)),
    )
    _print(result.report, destination, as_json)
    if not result.succeeded:
        raise SystemExit(1)


def token_for(target: str, settings: Settings) -> SecretStr | None:
    """ASSAY_GIT_TOKEN, for the hosts it is meant for only (ASSAY_GIT_TOKEN_HOSTS)."""
    host = (urlsplit(target).hostname or "").lower() if "://" in target else ""
    return settings.git_token if host and host in settings.git_token_host_list else None


def _print(report: dict[str, Any], destination: Path | None, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        before, after = report["coverage"]["before"], report["coverage"]["after"]
        funnel = report["funnel"]
        reason = f" ({report['reason']})" if report["reason"] else ""
        warned = (f" with {len(report['warnings'])} warning(s)"
                  if report.get("warnings") and not report["reason"] else "")  # fmt: skip
        click.echo(f"analysis {report['analysis_id']}: {report['status']}{reason}{warned}")
        measured = coverage_line(before, after)
        if measured is not None:
            click.echo(f"coverage: {measured}")
        click.echo("funnel: " + ", ".join(f"{k} {v}" for k, v in funnel.items()))
        click.echo(f"findings: {len(report['findings'])} possible bug(s)")
        gaps = report.get("gaps") or []
        if gaps:
            click.echo(f"left without tests: {len(gaps)} module(s), see summary.md")
        for warning in report.get("warnings") or []:
            click.echo(f"warning: {warning}")
        if destination is not None:
            click.echo(f"report: {destination / 'report.json'}")
