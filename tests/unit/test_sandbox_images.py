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


def test_the_step_host_picks_the_image_from_what_the_analysis_detected() -> None:
    from types import SimpleNamespace

    from assay.analysis.distributed import _image

    def project(language: str, *, active: bool = True) -> SimpleNamespace:
        return SimpleNamespace(active=active, detection=SimpleNamespace(language=language))

    def saved(main: str | None, *projects: SimpleNamespace) -> SimpleNamespace:
        detection = SimpleNamespace(language=main) if main else None
        return SimpleNamespace(steps=SimpleNamespace(detection=detection, projects=list(projects)))

    assert _image(None) == "universal"  # before detection: intake
    assert _image(saved("go", project("go"))) == "go"
    assert _image(saved("typescript")) == "javascript"
    assert _image(saved("go", project("go"), project("python", active=False))) == "go"
    assert _image(saved("go", project("go"), project("python"))) == "universal"
