"""User-facing errors. The CLI turns each into one line on stderr and an exit code."""


class DlmctlError(Exception):
    """A failure the user can act on; ``exit_code`` 1 unless a subclass says otherwise."""

    exit_code = 1


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
