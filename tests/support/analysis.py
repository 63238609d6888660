"""One whole local analysis of an example project with the LLM engine against a scripted
OpenAI-compatible server on loopback, in the process sandbox: what the language tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.analysis.options import AnalysisOptions
from assay.analysis.pipeline import new_analysis_id, run_analysis
from assay.config import Settings, load_settings
from assay.sandbox.process import ProcessSandbox
from assay.store.sqlite import SqliteStore
from assay.wiring import make_engine, make_signer
from tests.support.fake_llm import ScriptedLLM

MODEL = "openai/gpt-4o-mini"


def analyze_with_script(
    example: Path, rules: list[tuple[str, str]], home: Path, out: Path, **options: Any
) -> tuple[dict[str, Any], ScriptedLLM]:
    """The report of analyzing `example`, and the server (its requests show the prompts).
    `options` override AnalysisOptions (repair_turns defaults to 0, reruns to 2)."""
    llm = ScriptedLLM(rules)
    turns = options.pop("repair_turns", 0)
    with llm.serve() as base:
        settings = load_settings(home=home, openai_api_base=base, openai_api_key="sk-test",
                                 model=MODEL, repair_turns=turns)  # fmt: skip
        report = analyze(settings, example, out, engine="llm", model=MODEL,
                         repair_turns=turns, **options)  # fmt: skip
    return report, llm


def analyze(settings: Settings, example: Path, out: Path, *, engine: str,
            **options: Any) -> dict[str, Any]:  # fmt: skip
    """The report of one local analysis in the process sandbox (reruns default to 2)."""
    chosen = AnalysisOptions(
        analysis_id=new_analysis_id(), target=str(example), engine=engine,
        budget_s=options.pop("budget_s", 600), reruns=options.pop("reruns", 2), **options,
    )  # fmt: skip
    store = SqliteStore(settings.database_path)
    try:
        result = run_analysis(
            settings, chosen, records=store, sandbox=ProcessSandbox(hidden=(settings.home,)),
            engine=make_engine(settings, engine, None), signer=make_signer(settings), out=out,
        )  # fmt: skip
    finally:
        store.close()
    return result.report
