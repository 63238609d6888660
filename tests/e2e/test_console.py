"""The console end to end, in a real headless Chromium (Debian's) driven by Playwright, against
`assay serve` on loopback with a scripted OpenAI-compatible model server behind its gateway.

Screenshots of the main views land in `test-artifacts/console/` for a reviewer to look at.
"""

from __future__ import annotations

import io
import re
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from assay.records.api_keys import mint_key
from tests.e2e.test_serve import serving
from tests.integration.conftest import EXAMPLE, REGISTRY

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "console"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BUILT = ROOT / "layers" / "core" / "assay" / "console" / "static" / "index.html"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed; run `make setup` (scripts/ensure-system-deps)")
    if not BUILT.is_file():
        pytest.fail("the console is not built; run `make setup` (npm run build)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def _archive(path: Path) -> Path:
    target = path / "shop.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(EXAMPLE, arcname="shop")
    target.write_bytes(buffer.getvalue())
    return target


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _accessible(page: Page, view: str) -> None:
    """axe-core's WCAG 2 A/AA rules on the view as it is now: no serious or critical finding
    (unlabelled controls, missing names, too little contrast, broken ARIA...)."""
    page.evaluate(AXE.read_text())  # through DevTools: the page's CSP rightly refuses a tag
    found = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
    )
    assert found == [], f"{view}: {found}"


def _watch_for_errors(page: Page) -> list[str]:
    """Console errors and failed page loads (CSP violations show up as console errors)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


@REGISTRY
def test_the_console_end_to_end(tmp_path: Path, browser: Browser) -> None:
    from tests.integration.test_pipeline import CART_REPAIRED, PRICING_TESTS
    from tests.support.fake_llm import ScriptedLLM

    key = mint_key()
    llm = ScriptedLLM(
        [("Module `shop/pricing.py`", PRICING_TESTS), ("Module `shop/cart.py`", CART_REPAIRED)]
    )
    llm.delay_s = 1.5  # slow enough to watch generation run live
    archive = _archive(tmp_path)
    with (
        llm.serve() as model_base,
        serving(
            tmp_path / "home", ASSAY_BOOTSTRAP_API_KEY=key, ASSAY_REPAIR_TURNS="0",
            ASSAY_RERUNS="2",
        ) as (base, _),
    ):  # fmt: skip
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors = _watch_for_errors(page)
        page.goto(base + "/")

        # Sign in with a wrong key: the API's problem is shown; then with the right one.
        page.get_by_label("API key").fill(mint_key())
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("Unauthorized")
        _shot(page, "01-sign-in-error")
        _accessible(page, "sign-in")
        # By keyboard alone: the field takes focus, Enter submits.
        page.get_by_label("API key").fill("")
        page.get_by_label("API key").focus()
        page.keyboard.type(key)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Analyses")).to_be_visible()
        expect(page.get_by_text("No analyses yet.")).to_be_visible()
        # The key is in this tab's session storage, never in local storage.
        assert key in page.evaluate("JSON.stringify(sessionStorage)")
        assert key not in page.evaluate("JSON.stringify(localStorage)")

        nav = page.get_by_role("navigation", name="Sections")
        # The gateway: a connection to the scripted model server and a resource over it.
        nav.get_by_role("link", name="Gateway").click()
        page.get_by_role("button", name="Add a connection").click()
        page.get_by_label("Name", exact=True).fill("scripted")
        page.get_by_label("Base URL (optional)").fill(model_base)
        page.get_by_label("API key", exact=True).fill("sk-scripted")
        page.get_by_role("button", name="Save connection").click()
        connections = page.get_by_role("region", name="Connections")
        expect(connections.get_by_role("cell", name="set (write-only)")).to_be_visible()
        assert "sk-scripted" not in page.content()  # credentials are write-only
        page.get_by_role("button", name="Add a resource").click()
        page.get_by_label("Name (what clients pass as model)").fill("analysis-model")
        page.get_by_label("Model 1").fill("gpt-4o-mini")
        page.get_by_label("Cache TTL (seconds, 0 = off)").fill("0")
        page.get_by_label("Guardrails (JSON list)").fill("{not json")
        page.get_by_role("button", name="Save resource").click()
        expect(page.get_by_role("alert")).to_contain_text("Guardrails is not valid JSON")
        page.get_by_label("Guardrails (JSON list)").fill("")
        page.get_by_role("button", name="Save resource").click()
        resources = page.get_by_role("region", name="Resources")
        expect(resources.get_by_role("cell", name="scripted / gpt-4o-mini")).to_be_visible()
        _shot(page, "02-gateway")
        _accessible(page, "gateway")

        # Submit the example project as an upload and follow it live to the end.
        nav.get_by_role("link", name="Analyses").click()
        page.get_by_role("link", name="New analysis").click()
        page.get_by_label("An archive upload").check()
        page.get_by_label("Archive (.tar.gz or .zip, at most 100 MB)").set_input_files(archive)
        page.get_by_label("Engine").select_option("llm")
        page.get_by_label("Model (optional: a gateway resource name)").fill("analysis-model")
        page.get_by_label("Also measure the mutation score").check()
        _shot(page, "03-new-analysis")
        _accessible(page, "new analysis")
        page.get_by_role("button", name="Analyze").click()
        expect(page.get_by_role("heading", name="shop.tar.gz")).to_be_visible()
        stages = page.locator("ol.stages")
        expect(stages.locator("[data-stage=intake].stage-done")).to_be_visible(timeout=120_000)
        # Live: generation is seen running, with the funnel's first counts, before the end.
        expect(stages.locator("[data-stage=generate].stage-running")).to_be_visible(timeout=300_000)
        expect(page.get_by_text("● live")).to_be_visible()
        expect(page.locator(".badge-running")).to_be_visible()
        _shot(page, "04-analysis-live")
        expect(stages.locator("[data-stage=report].stage-done")).to_be_visible(timeout=600_000)
        expect(page.locator(".badge-succeeded")).to_be_visible(timeout=30_000)
        # The funnel as a chart, and coverage per file.
        funnel = page.get_by_role("table", name="Generated tests by the furthest stage")
        expect(funnel.locator("[data-stage=kept] .count")).to_have_text("2")
        coverage = page.get_by_role("region", name="Coverage")
        expect(coverage.get_by_role("rowheader", name="shop/pricing.py")).to_be_visible()
        # A kept test's code, and a finding with its failing test.
        kept = page.get_by_role("region", name="Kept tests (2)")
        kept.locator("summary").first.click()
        expect(kept.locator("pre.code")).to_contain_text("def test_")
        findings = page.get_by_role("region", name="Findings (1)")
        findings.locator("summary").first.click()
        expect(findings).to_contain_text("AssertionError")
        expect(findings.locator("pre.code")).to_contain_text("test_median_of_even_count")
        # The mutation score of the kept tests, per module.
        mutation = page.get_by_role("region", name="Mutation score")
        expect(mutation).to_contain_text("mutmut")
        expect(mutation.get_by_role("rowheader", name="shop/pricing.py")).to_be_visible()
        # The evidence, verified by the server with its own key.
        expect(page.get_by_test_id("verdict")).to_contain_text("Verified", timeout=30_000)
        expect(page.get_by_test_id("verdict")).to_contain_text("this server's key")
        _shot(page, "05-analysis-report")
        _accessible(page, "analysis")

        # The list shows the headline numbers.
        nav.get_by_role("link", name="Analyses").click()
        row = page.locator("table.analyses tbody tr").first
        expect(row).to_contain_text("succeeded")
        expect(row).to_contain_text("→")
        expect(row.locator("td").nth(3)).to_have_text("2")
        _shot(page, "06-analyses")
        _accessible(page, "analyses")

        # The analysis's model calls went through the gateway: usage and audit show them.
        nav.get_by_role("link", name="Usage").click()
        expect(page.get_by_test_id("total-requests")).to_have_text(
            re.compile(r"^[1-9]"), timeout=15_000
        )
        expect(page.locator(".chart-box canvas").first).to_be_visible()
        _shot(page, "07-usage")
        _accessible(page, "usage")
        nav.get_by_role("link", name="Audit").click()
        expect(page.locator("table.requests")).to_contain_text("analysis-model")
        expect(page.locator("table.requests")).to_contain_text("scripted/gpt-4o-mini")
        _shot(page, "08-audit-requests")
        _accessible(page, "audit")
        page.get_by_role("tab", name="Administrative changes").click()
        expect(page.get_by_role("cell", name="gateway.resource.put")).to_be_visible()

        # Keys: a new one is shown once; revoking the console's own key signs it out.
        nav.get_by_role("link", name="Keys").click()
        page.get_by_label("Name", exact=True).fill("ci")
        page.get_by_role("button", name="Create key").click()
        new_key = page.get_by_test_id("new-key").inner_text()
        assert new_key.startswith("assay_") and new_key != key
        _shot(page, "09-keys")
        _accessible(page, "keys")
        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Revoke key bootstrap").click()
        expect(page.get_by_role("heading", name="Sign in to Assay")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("revoked the key")
        assert key not in page.evaluate("JSON.stringify(sessionStorage)")
        revoked = httpx.get(f"{base}/v1/keys", headers={"Authorization": f"Bearer {new_key}"})
        assert revoked.status_code == 403  # the new key reads analyses only

        # Readable on a phone.
        phone = browser.new_context(viewport={"width": 390, "height": 844})
        small = phone.new_page()
        small.goto(base + "/")
        small.get_by_label("API key").fill(new_key)
        small.get_by_role("button", name="Sign in").click()
        expect(small.locator("table.analyses")).to_contain_text("succeeded")
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"the page is {width}px wide on a 390px screen"
        _shot(small, "10-phone-analyses")
        phone.close()
        context.close()
    # Only the wrong key's 401 reached the browser's console: no script errors, no CSP blocks.
    assert [e for e in errors if "status of 401" not in e] == []
    assert len(errors) == 1


def test_single_sign_on_with_the_authorization_code_flow_and_pkce(
    tmp_path: Path, browser: Browser
) -> None:
    from tests.support.oidc_issuer import OidcIssuer

    issuer = OidcIssuer(audience="assay-console")
    issuer.sign_in_as = {"sub": "ada", "custom:tenant": "default",
                         "scope": "openid assay/analyses:read"}  # fmt: skip
    try:
        with serving(
            tmp_path, ASSAY_BOOTSTRAP_API_KEY=mint_key(), ASSAY_OIDC_ISSUER=issuer.url,
            ASSAY_OIDC_AUDIENCE="assay-console",
        ) as (base, _):  # fmt: skip
            config = httpx.get(f"{base}/config.json").json()
            assert config["oidc"] == {"issuer": issuer.url, "client_id": "assay-console",
                                      "scope": "openid email profile"}  # fmt: skip
            page = browser.new_page()
            errors = _watch_for_errors(page)
            page.goto(base + "/")
            page.get_by_role("button", name="Sign in with single sign-on").click()
            # To the issuer and back with a code, traded for an ID token with the verifier.
            expect(page.get_by_role("heading", name="Analyses")).to_be_visible()
            assert issuer.token_exchanges == 1
            assert "code=" not in page.url  # the code leaves the address bar at once
            stored = page.evaluate("sessionStorage.getItem('assay.credential')")
            assert '"kind":"oidc"' in stored
            # A reader sees analyses, not the admin sections.
            nav = page.get_by_role("navigation", name="Sections")
            expect(nav.get_by_role("link", name="Analyses")).to_be_visible()
            expect(nav.get_by_role("link", name="Keys")).to_have_count(0)
            expect(page.get_by_role("link", name="New analysis")).to_have_count(0)
            _shot(page, "11-signed-in-with-sso")
            # A forged callback (a state this tab never sent) is refused on the sign-in page.
            page.get_by_role("button", name="Sign out").click()
            page.goto(base + "/?code=stolen&state=forged")
            expect(page.get_by_role("status")).to_contain_text("does not match the request")
            expect(page.get_by_role("heading", name="Sign in to Assay")).to_be_visible()
            assert issuer.token_exchanges == 1
            page.close()
        assert errors == []
    finally:
        issuer.close()
