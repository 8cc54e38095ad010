"""User-facing errors. The CLI turns each into one line on stderr and an exit code."""

import re


class DlmctlError(Exception):
    """A failure the user can act on; ``exit_code`` 1 unless a subclass says otherwise."""

    exit_code = 1

    def one_line(self, limit: int = 1000) -> str:
        """The message on one line: control characters a user's input brought in (newlines, tabs,
        NUL) shown escaped, and a message longer than ``limit`` characters (a huge input quoted
        back) cut in the middle."""
        line = re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], str(self))
        if len(line) <= limit:
            return line
        return f"{line[:limit // 2]} … ({len(line) - limit:,} characters left out) … {line[-limit // 2:]}"


class UsageError(DlmctlError):
    """Bad command-line input (exit code 2)."""

    exit_code = 2


class TargetError(UsageError):
    """A control target that does not parse or does not fit the model."""


class ModelError(DlmctlError):
    """A model directory that is missing, incomplete or corrupt."""


class PluginError(DlmctlError):
    """A plugin problem that prevents the requested command (unknown or duplicate control)."""

    exit_code = 2
