"""`assay verify DIR`: check an analysis's evidence offline."""

from __future__ import annotations

from pathlib import Path

import click

from assay.evidence import verify_dir


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM public key the checkpoint must be signed with (default: the key in the log).",
)
@click.option("--json", "as_json", is_flag=True)
def verify(directory: Path, public_key: Path | None, as_json: bool) -> None:
    """Verify the evidence in DIRECTORY: hash chain, artifact digests and signature."""
    pem = public_key.read_text() if public_key else None
    verdict = verify_dir(directory, pem)
    if as_json:
        click.echo(verdict.model_dump_json(indent=2))
    elif verdict.ok:
        source = "the given key" if verdict.trusted_key else "the key recorded in the log"
        click.echo(
            f"verified: {verdict.entries} entries, head {verdict.head}, "
            f"signed by {verdict.key_id} ({source})"
        )
        for note in verdict.notes:
            click.echo(f"note: {note}")
    else:
        where = f"entry {verdict.bad_entry}: " if verdict.bad_entry else ""
        click.secho(f"NOT VERIFIED: {where}{verdict.reason}", fg="red", err=True)
    if not verdict.ok:
        raise SystemExit(1)
