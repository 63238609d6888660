"""Which sandbox image (and so which Fargate task definition) runs an analysis's jobs: the
language's own (`sandbox-tasks/images/<image>/Dockerfile`), or the universal one, which holds
every toolchain, when a repository mixes languages or its language is not known yet."""

from __future__ import annotations

from collections.abc import Iterable

IMAGES = ("python", "javascript", "go", "rust", "java", "universal")
UNIVERSAL = "universal"
FAMILY_PREFIX = "assay-sandbox-"  # the task definitions' family names: assay-sandbox-<image>
# Languages that share another's toolchain image.
_SHARED = {"typescript": "javascript", "kotlin": "java"}


def image_for(languages: Iterable[str | None]) -> str:
    """The one image that runs every one of `languages` (detected, lower case)."""
    found = {_SHARED.get(name, name) for name in languages if name}
    if len(found) == 1:
        (only,) = found
        if only in IMAGES:
            return only
    return UNIVERSAL


def task_family(image: str) -> str:
    if image not in IMAGES:
        raise ValueError(f"no sandbox image {image!r} (known: {', '.join(IMAGES)})")
    return FAMILY_PREFIX + image
