"""The JavaScript runtime on `examples/js-shop` (CommonJS, Jest): npm installs through the
sandbox's registry-only proxy, Jest runs in the process sandbox with Istanbul coverage, and a
whole analysis with the LLM engine against a scripted model server keeps tests, prunes a
failing one into a finding, and seals verifiable evidence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.analysis.options import AnalysisOptions
from assay.analysis.pipeline import new_analysis_id, run_analysis
from assay.analysis.report import validate
from assay.config import load_settings
from assay.evidence import verify_dir
from assay.runtimes.javascript import JavaScriptRuntime
from assay.sandbox import Limits
from assay.sandbox.process import ProcessSandbox
from assay.store.sqlite import SqliteStore
from assay.wiring import make_engine, make_signer
from tests.support.analysis import analyze_with_script
from tests.support.fake_llm import ScriptedLLM

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "js-shop"
NPM = pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost", "registry.npmjs.org"])
pytestmark = [
    NPM,
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
]

PRICING_TESTS = """Here you go:

```javascript
const { applyDiscount, bulkPrice, median } = require("../src/pricing.js");

describe("pricing", () => {
  test("bulk prices step down at 10 and 100 units", () => {
    expect(bulkPrice(1, 5)).toBe(5);
    expect(bulkPrice(1, 10)).toBe(9.5);
    expect(bulkPrice(1, 100)).toBe(90);
  });

  test("discounts refuse bad input", () => {
    expect(() => applyDiscount(-1, 10)).toThrow(RangeError);
    expect(() => applyDiscount(10, 150)).toThrow("percent");
  });

  test("median of an even count is the mean of the middle values", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  test("median of nothing is an error", () => {
    expect(() => median([])).toThrow("empty");
  });
});
```
"""

CART_TESTS = """```javascript
const { Cart } = require("../src/cart.js");

test("codes discount the total and unknown codes are refused", () => {
  const cart = new Cart();
  cart.add("book", 20, 2);
  expect(cart.useCode("welcome10")).toBe(true);
  expect(cart.total()).toBe(36);
  expect(cart.useCode("FREE")).toBe(false);
});

test("removing items and refusing empty quantities", () => {
  const cart = new Cart();
  cart.add("pen", 1.5);
  cart.add("pen", 1.5, 3);
  expect(cart.total()).toBe(6);
  expect(cart.remove("pen")).toBe(true);
  expect(cart.remove("pen")).toBe(false);
  expect(() => cart.add("pen", 1, 0)).toThrow(RangeError);
});
```
"""


@pytest.fixture(scope="module")
def js_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("assay-js-home")


def test_the_runtime_detects_installs_and_measures(js_home: Path, tmp_path: Path) -> None:
    runtime = JavaScriptRuntime()
    detection = runtime.detect(EXAMPLE)
    assert detection is not None
    assert (detection.language, detection.test_runner) == ("javascript", "jest")
    assert detection.modules == ["src/cart.js", "src/pricing.js"]
    assert detection.test_files == ["tests/cart.test.js"]
    assert detection.module_system == "commonjs"
    sandbox = ProcessSandbox(hidden=(js_home,))
    env = runtime.prepare(detection, EXAMPLE, sandbox, js_home / "cache", [])
    assert (js_home / "cache" / "envs").is_dir()
    workdir = tmp_path / "run"
    shutil.copytree(EXAMPLE, workdir)
    run = runtime.run_tests(env, detection, workdir, [], sandbox, limits=Limits(wall_s=120))
    assert run.ok, run.output
    assert [t.test_id for t in run.tests] == ["tests/cart.test.js::an empty cart costs nothing"]
    assert run.coverage is not None
    # Both modules are measured, the untested one too (all of it missing).
    cart, pricing = run.coverage.files["src/cart.js"], run.coverage.files["src/pricing.js"]
    assert cart.executed and cart.missing
    assert pricing.missing and pricing.missing_branches
    # A failing assertion is reported as one, with its message, and can be pruned away.
    test = workdir / "tests" / "extra.test.js"
    test.write_text(PRICING_TESTS.split("```javascript\n")[1].split("```", maxsplit=1)[0])
    failing = runtime.run_tests(
        env, detection, workdir, ["tests/extra.test.js"], sandbox, limits=Limits(wall_s=120)
    )
    assert not failing.ok
    (bad,) = failing.failed
    assert bad.test_id.endswith(
        "::pricing median of an even count is the mean of the middle values"
    )
    assert runtime.is_assertion_failure(bad.error_type, bad.message)
    assert "Expected: 2.5" in (bad.detail or "")
    pruned = runtime.prune(test.read_text(), {bad.test_id.rsplit("::", 1)[-1]})
    assert pruned is not None and "even count" not in pruned and "empty" in pruned


CART_BROKEN = '```javascript\nconst { Cart } = require("../src/cart.js");\ntest("x", () => {\n```\n'


def test_an_llm_analysis_of_the_javascript_example(js_home: Path, tmp_path: Path) -> None:
    llm = ScriptedLLM(
        [("Your previous test file for `src/cart.js`", CART_TESTS),
         ("Module `src/pricing.js`", PRICING_TESTS), ("Module `src/cart.js`", CART_BROKEN)]
    )  # fmt: skip
    out = tmp_path / "out"
    with llm.serve() as base:
        settings = load_settings(home=js_home, openai_api_base=base, openai_api_key="sk-test",
                                 model="openai/gpt-4o-mini", repair_turns=1)  # fmt: skip
        engine = make_engine(settings, "llm", None)
        options = AnalysisOptions(
            analysis_id=new_analysis_id(), target=str(EXAMPLE), engine="llm",
            model="openai/gpt-4o-mini", budget_s=300, reruns=2, repair_turns=1, workers=2,
            engine_time_s=15,
        )  # fmt: skip
        store = SqliteStore(settings.database_path)
        try:
            result = run_analysis(
                settings, options, records=store, sandbox=ProcessSandbox(hidden=(js_home,)),
                engine=engine, signer=make_signer(settings), out=out,
            )  # fmt: skip
        finally:
            store.close()
    report = result.report
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == []
    assert report["language"] == "javascript"
    # The prompts spoke JavaScript and Jest, and named the module's path for require.
    system = llm.requests[0]["messages"][0]["content"]
    assert "JavaScript" in system and "Jest" in system and "```javascript" in system
    assert "import it as `../src/" in llm.requests[0]["messages"][1]["content"]
    # The broken cart file was sent back once, in JavaScript, and its repair kept.
    (repair,) = [r["messages"][1]["content"] for r in llm.requests
                 if "Your previous test file" in r["messages"][1]["content"]]  # fmt: skip
    assert "```javascript" in repair and "src/cart.js" in repair
    # Three files: the refused cart file is generated but not built; its repair is kept.
    assert report["funnel"] == {"generated": 3, "built": 2, "passed": 2, "reliable": 2,
                                "gained": 2, "kept": 2}  # fmt: skip
    kept = sorted(t["path"] for t in report["tests"] if t["status"] == "kept")
    assert [p.split("_llm_")[0] for p in kept] == [
        "tests/assay_src_cart",
        "tests/assay_src_pricing",
    ]
    assert all(p.startswith("tests/assay_") and p.endswith(".test.js") for p in kept)
    pricing = (out / next(p for p in kept if "pricing" in p)).read_text()
    assert "even count" not in pricing and "bulk prices" in pricing  # pruned, rest kept
    (finding,) = report["findings"]
    assert finding["error_type"] == "AssertionError"
    assert finding["path"].endswith(".test.js")
    files = report["coverage"]["files"]
    assert (
        files["src/pricing.js"]["after"]["line_pct"] > files["src/pricing.js"]["before"]["line_pct"]
    )
    assert report["coverage"]["after"]["branch_pct"] > report["coverage"]["before"]["branch_pct"]
    assert verify_dir(out).ok


TS_EXAMPLE = EXAMPLE.parent / "ts-inventory"


def test_typescript_with_vitest(js_home: Path, tmp_path: Path) -> None:
    runtime = JavaScriptRuntime()
    detection = runtime.detect(TS_EXAMPLE)
    assert detection is not None
    assert (detection.test_runner, detection.module_system) == ("vitest", "esm")
    idioms = runtime.idioms(detection)
    assert (idioms.language, idioms.framework, idioms.fence) == (
        "TypeScript",
        "Vitest",
        "typescript",
    )
    assert runtime.import_hint("src/inventory.ts", detection) == "../src/inventory"
    path = runtime.candidate_path("src/inventory.ts", 0, "llm", detection)
    assert path == "tests/assay_src_inventory_llm_0.test.ts"
    sandbox = ProcessSandbox(hidden=(js_home,))
    env = runtime.prepare(detection, TS_EXAMPLE, sandbox, js_home / "cache", [])
    workdir = tmp_path / "run"
    shutil.copytree(TS_EXAMPLE, workdir)
    (workdir / path).write_text(
        'import { describe, expect, it } from "vitest";\n'
        'import { Inventory } from "../src/inventory";\n\n'
        'describe("reorder", () => {\n'
        '  it("lists low stock, fewest first", () => {\n'
        "    const stock = new Inventory();\n"
        '    stock.receive("a", 4);\n'
        '    stock.receive("b", 2);\n'
        '    stock.receive("c", 50);\n'
        '    expect(stock.toReorder()).toEqual(["b", "a"]);\n'
        "  });\n\n"
        '  it("refuses to ship what is not there", () => {\n'
        '    expect(() => new Inventory().ship("x", 1)).toThrow("unknown");\n'
        "  });\n\n"
        '  it("claims a wrong count", () => {\n'
        "    const stock = new Inventory();\n"
        '    stock.receive("a", 1);\n'
        '    expect(stock.ship("a", 1)).toBe(1);\n'
        "  });\n"
        "});\n"
    )
    before = runtime.run_tests(env, detection, workdir, ["tests/inventory.test.ts"], sandbox,
                               limits=Limits(wall_s=120))  # fmt: skip
    assert before.ok, before.output
    after = runtime.run_tests(env, detection, workdir, [path], sandbox, limits=Limits(wall_s=120))
    assert not after.ok
    assert sorted(t.outcome for t in after.tests) == ["failed", "passed", "passed"]
    (bad,) = after.failed
    assert bad.test_id == f"{path}::reorder claims a wrong count"
    assert runtime.is_assertion_failure(bad.error_type, bad.message)
    assert before.coverage is not None and after.coverage is not None
    old, new = before.coverage.files["src/inventory.ts"], after.coverage.files["src/inventory.ts"]
    assert new.executed - old.executed  # toReorder and the unknown-sku branch now run
    assert len(new.executed_branches) > len(old.executed_branches)
    pruned = runtime.prune((workdir / path).read_text(), {"reorder claims a wrong count"})
    assert pruned is not None and "wrong count" not in pruned and "fewest first" in pruned
    # The build stage compiles the file and runs nothing: a failing test is no parse error...
    built = runtime.run_tests(env, detection, workdir, [path], sandbox,
                              limits=Limits(wall_s=120), collect_only=True)  # fmt: skip
    assert built.ok, built.output
    assert not built.tests
    # ...and a file that does not compile is refused with the compiler's words.
    (workdir / path).write_text('import { it } from "vitest";\nit("x", () => {\n  const n = ;\n')
    refused = runtime.run_tests(env, detection, workdir, [path], sandbox,
                                limits=Limits(wall_s=120), collect_only=True)  # fmt: skip
    assert not refused.ok
    assert refused.reason == f'the file does not parse: {path}:3:13: Unexpected ";"'


# A file that compiles, with four passing tests and one wrong assertion (shipping the last unit
# leaves 0, not 1), and a type error Vitest does not check (`quantity` is a number).
INVENTORY_TESTS = """```typescript
import { describe, expect, it } from "vitest";
import { Inventory } from "../src/inventory";

describe("Inventory", () => {
  it("refuses a quantity that is not positive", () => {
    expect(() => new Inventory().receive("a", 0)).toThrow(RangeError);
  });

  it("adds to stock already held", () => {
    const stock = new Inventory();
    stock.receive("a", 2);
    stock.receive("a", 3);
    expect(stock.ship("a", 1)).toBe(4);
  });

  it("refuses unknown skus and more than is held", () => {
    const stock = new Inventory();
    stock.receive("a", 1);
    expect(() => stock.ship("b", 1)).toThrow("unknown sku b");
    expect(() => stock.ship("a", 2)).toThrow(RangeError);
  });

  it("lists low stock, fewest first", () => {
    const stock = new Inventory();
    stock.receive("a", 4);
    stock.receive("b", 2);
    stock.receive("c", 50);
    const count: string = stock.ship("c", 1);
    expect(count).toBe(49);
    expect(stock.toReorder()).toEqual(["b", "a"]);
  });

  it("claims the last unit leaves one", () => {
    const stock = new Inventory();
    stock.receive("a", 1);
    expect(stock.ship("a", 1)).toBe(1);
  });
});
```
"""


def test_an_llm_analysis_of_the_typescript_example(js_home: Path, tmp_path: Path) -> None:
    """A TypeScript file with one wrong assertion compiles, so it is built: its passing tests
    are kept and the wrong one is a finding (not 'a file that does not parse')."""
    report, llm = analyze_with_script(
        TS_EXAMPLE, [("Module `src/inventory.ts`", INVENTORY_TESTS)], js_home, tmp_path / "out",
        repair_turns=1,
    )  # fmt: skip
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == []
    # Nothing to repair: the file is not sent back to "fix" the assertion that found a bug.
    assert len(llm.requests) == 1
    (test,) = report["tests"]
    assert test["status"] == "kept", test
    assert report["funnel"] == {"generated": 1, "built": 1, "passed": 1, "reliable": 1,
                                "gained": 1, "kept": 1}  # fmt: skip
    kept = (tmp_path / "out" / test["path"]).read_text()
    assert "fewest first" in kept and "leaves one" not in kept
    (finding,) = report["findings"]
    assert finding["test_id"].endswith("::Inventory claims the last unit leaves one")
    assert finding["error_type"] == "AssertionError"
    assert finding["path"].endswith(".test.ts")
