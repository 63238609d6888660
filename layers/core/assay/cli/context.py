"""What every command needs, built on first use so `assay --help` touches nothing."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from assay.config import Settings, load_settings
from assay.observability import configure
from assay.wiring import Ports, build_ports


class CliContext:
    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        self.config_file: Path | None = None  # set by a command's --config before first use

    @cached_property
    def settings(self) -> Settings:
        settings = load_settings(config_file=self.config_file)
        configure("DEBUG" if self.debug else settings.log_level)
        return settings

    @cached_property
    def ports(self) -> Ports:
        return build_ports(self.settings)

    def close(self) -> None:
        if "ports" in self.__dict__:
            self.ports.close()
