"""The one user-facing error type: every message names a file and, where known, a line."""

from __future__ import annotations


class DebforgeError(Exception):
    """An error caused by input (recipe, upstream metadata, environment). The CLI prints it and exits 2."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.hint = hint

    @property
    def location(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def __str__(self) -> str:
        text = f"{self.location}: error: {self.message}" if self.location else f"error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text
