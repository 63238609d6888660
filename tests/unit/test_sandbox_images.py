"""The sandbox image (Fargate task definition) an analysis's jobs run in."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.sandbox.images import IMAGES, image_for, task_family

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("languages", "image"),
    [
        (["python"], "python"),
        (["typescript"], "javascript"),
        (["javascript", "typescript"], "javascript"),
        (["kotlin", "java"], "java"),
        (["go", "go"], "go"),
        (["rust"], "rust"),
        (["python", "go"], "universal"),  # a repository mixing languages
        ([], "universal"),  # nothing detected yet (intake, detection)
        ([None], "universal"),
        (["cobol"], "universal"),
    ],
)
def test_the_image_runs_every_language_of_the_analysis(
    languages: list[str | None], image: str
) -> None:
    assert image_for(languages) == image


def test_every_image_has_a_dockerfile_and_a_family() -> None:
    for image in IMAGES:
        assert (ROOT / "sandbox-tasks" / "images" / image / "Dockerfile").is_file()
        assert task_family(image) == f"assay-sandbox-{image}"
    with pytest.raises(ValueError, match="no sandbox image"):
        task_family("cobol")


def test_a_session_runs_in_the_image_of_what_the_analysis_detected() -> None:
    from types import SimpleNamespace
    from typing import Any

    from assay.analysis.steps import image_of

    def project(language: str, *, active: bool = True) -> Any:
        return SimpleNamespace(active=active, detection=SimpleNamespace(language=language))

    def image(main: str | None, *projects: Any) -> str:
        return image_of(list(projects), SimpleNamespace(language=main) if main else None)  # type: ignore[arg-type]

    assert image(None) == "universal"  # before detection: intake
    assert image("go", project("go")) == "go"
    assert image("typescript") == "javascript"
    assert image("go", project("go"), project("python", active=False)) == "go"
    assert image("go", project("go"), project("python")) == "universal"
