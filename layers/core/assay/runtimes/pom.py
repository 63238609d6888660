"""Reading a project's pom.xml as Maven does, where a substring would be fooled: whether its
build attaches JaCoCo, and where a top-level element goes when Assay adds one to a copy
(comments, plugin configurations and namespace prefixes included)."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

_TAG = re.compile(r"<(/?)([A-Za-z_][\w:.-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>")
_OPAQUE = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<!DOCTYPE[^>]*>", re.DOTALL)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _child(node: Element, name: str) -> Element | None:
    return next((c for c in node if _local(c.tag) == name), None)


def jacoco_attachment(pom: str) -> str:
    """How the pom's own build uses JaCoCo: `agent` when a build plugin attaches the agent
    (a prepare-agent execution), `plugin` when the build declares the plugin without it,
    `none` otherwise (only in pluginManagement, in a profile, in a comment, or absent)."""
    try:
        project = ElementTree.fromstring(pom.encode())
    except (ElementTree.ParseError, ValueError):
        return "none"
    build = _child(project, "build")
    plugins = _child(build, "plugins") if build is not None else None
    for plugin in plugins if plugins is not None else []:
        artifact = _child(plugin, "artifactId")
        if artifact is None or (artifact.text or "").strip() != "jacoco-maven-plugin":
            continue
        goals = [(g.text or "").strip() for g in plugin.iter() if _local(g.tag) == "goal"]
        return "agent" if "prepare-agent" in goals else "plugin"
    return "none"


def add_profile(pom: str, profile: str) -> str:
    """`pom` with `profile` (a `<profile>` element) in its top-level `<profiles>`, which is
    made when there is none. ValueError when the pom has no root element to put it in."""
    masked = _OPAQUE.sub(lambda m: " " * len(m.group(0)), pom)
    depth = 0
    for match in _TAG.finditer(masked):
        closing, name, _, empty = match.groups()
        if closing:
            depth -= 1
            if depth == 0:  # the root's end: no top-level <profiles> was found
                at = match.start()
                prefix = name.rsplit(":", 1)[0] + ":" if ":" in name else ""
                block = f"<{prefix}profiles>{profile}</{prefix}profiles>\n"
                return pom[:at] + block + pom[at:]
            continue
        if depth == 1 and _local(name) == "profiles" and not empty:
            return pom[: match.end()] + profile + pom[match.end() :]
        if not empty:
            depth += 1
    raise ValueError("pom.xml has no root element")
