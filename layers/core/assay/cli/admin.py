"""`assay tenants ...` and `assay keys ...`: administration on this installation's stores."""

from __future__ import annotations

import json

import click

from assay import tenancy
from assay.cli.context import CliContext
from assay.records import Scope, Tenant
from assay.records.api_keys import mint_key
from assay.store import SYSTEM_TENANT

ACTOR = "cli"


@click.group()
def tenants() -> None:
    """Create and list tenants."""


@tenants.command("create")
@click.argument("name")
@click.option("--slug", help="Short unique name (default: derived from NAME).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tenants_create(obj: CliContext, name: str, slug: str | None, as_json: bool) -> None:
    """Create a tenant called NAME."""
    tenant = tenancy.create_tenant(obj.ports.records, name, slug=slug, actor=ACTOR)
    if as_json:
        click.echo(tenant.model_dump_json())
    else:
        click.echo(f"created tenant {tenant.slug} ({tenant.id})")


@tenants.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tenants_list(obj: CliContext, as_json: bool) -> None:
    """List tenants, oldest first."""
    items: list[Tenant] = []
    cursor = None
    while True:
        page = obj.ports.records.list(Tenant, SYSTEM_TENANT, cursor=cursor, limit=200)
        items += page.items
        if (cursor := page.next_cursor) is None:
            break
    if as_json:
        click.echo(json.dumps([t.model_dump(mode="json") for t in items], indent=2))
        return
    if not items:
        click.echo("no tenants yet: `assay tenants create NAME`")
    for tenant in items:
        click.echo(f"{tenant.slug:<24} {tenant.id}  {tenant.status.value:<9} {tenant.name}")


@click.group()
def keys() -> None:
    """Issue, list and revoke API keys."""


_SCOPES = click.Choice([s.value for s in Scope])


@keys.command("create")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or slug.")
@click.option("--name", required=True, help="What the key is for, e.g. 'ci'.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=_SCOPES,
    default=["analyses:read"],
    show_default=True,
    help="Repeat for several scopes.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def keys_create(
    obj: CliContext, tenant_ref: str, name: str, scopes: tuple[str, ...], as_json: bool
) -> None:
    """Issue an API key. The key is printed once and never stored."""
    records = obj.ports.records
    tenant = tenancy.resolve_tenant(records, tenant_ref)
    issued = tenancy.issue_key(records, tenant, name, [Scope(s) for s in scopes], actor=ACTOR)
    if as_json:
        click.echo(json.dumps({"key": issued.key, **issued.record.model_dump(mode="json")}))
        return
    click.echo(f"key {issued.record.id} for {tenant.slug} ({', '.join(scopes)}):")
    click.echo(issued.key)
    click.echo("store it now: it cannot be shown again", err=True)


@keys.command("mint")
def keys_mint() -> None:
    """Print a fresh, valid API key without storing it anywhere: give it to a server as
    ASSAY_BOOTSTRAP_API_KEY, which registers it as the default tenant's admin key."""
    click.echo(mint_key())


@keys.command("list")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or slug.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def keys_list(obj: CliContext, tenant_ref: str, as_json: bool) -> None:
    """List a tenant's keys (hints only, never the keys)."""
    records = obj.ports.records
    items = tenancy.list_keys(records, tenancy.resolve_tenant(records, tenant_ref))
    if as_json:
        click.echo(json.dumps([k.model_dump(mode="json") for k in items], indent=2))
        return
    for key in items:
        state = "active" if key.is_active() else "revoked"
        scopes = ",".join(s.value for s in key.scopes)
        click.echo(f"{key.id}  {key.hint}…  {state:<8} {key.name:<20} {scopes}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or slug.")
@click.pass_obj
def keys_revoke(obj: CliContext, key_id: str, tenant_ref: str) -> None:
    """Revoke key KEY_ID at once."""
    records = obj.ports.records
    revoked = tenancy.revoke_key(
        records, tenancy.resolve_tenant(records, tenant_ref), key_id, actor=ACTOR
    )
    click.echo(f"revoked {revoked.id}")
