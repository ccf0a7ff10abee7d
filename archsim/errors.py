"""One error type for every bad input, so the CLI can print one line and exit 2."""

from __future__ import annotations


class ArchsimError(Exception):
    """A user-facing error: names the file, the key path and the reason."""

    def __init__(self, reason: str, file: str | None = None, key: str | None = None):
        self.reason = reason
        self.file = str(file) if file is not None else None
        self.key = key
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = [p for p in (self.file, self.key) if p]
        return ": ".join(parts + [self.reason])

    def __str__(self) -> str:
        return self.one_line()


class ConfigError(ArchsimError):
    """A YAML config (arch, model, sweep, validation case) is wrong."""


class TraceError(ArchsimError):
    """A workload trace file is malformed."""


class CapacityError(ArchsimError):
    """The workload does not fit the machine."""
