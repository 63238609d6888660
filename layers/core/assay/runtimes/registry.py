"""The runtimes an analysis may use, built from settings: every language Assay knows. Detection
picks the one that fits a project (see `AnalysisSteps.detect`)."""

from __future__ import annotations

from collections.abc import Callable

from assay.config import Settings
from assay.runtimes.golang import GoRuntime
from assay.runtimes.java import JavaRuntime
from assay.runtimes.javascript import JavaScriptRuntime
from assay.runtimes.kotlin import KotlinRuntime
from assay.runtimes.port import Runtime
from assay.runtimes.python import PythonRuntime
from assay.runtimes.rust import RustRuntime


def runtimes(
    settings: Settings, *, package_index: Callable[[], str] | None = None
) -> list[Runtime]:
    hosts = settings.package_host_list
    return [
        PythonRuntime(package_hosts=hosts, package_index=package_index),
        JavaScriptRuntime(package_hosts=hosts),
        GoRuntime(package_hosts=hosts, goproxy=settings.goproxy),
        RustRuntime(package_hosts=hosts, registry=settings.cargo_registry),
        # Before Java: a Kotlin project with Java beside it counts both, and wins the tie.
        KotlinRuntime(package_hosts=hosts, maven_mirror=settings.maven_mirror_url),
        JavaRuntime(package_hosts=hosts, maven_mirror=settings.maven_mirror_url),
    ]
