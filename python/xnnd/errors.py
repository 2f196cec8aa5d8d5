"""User-facing export errors: printed as one `xnnd export: ...` line, no traceback."""


class ExportError(Exception):
    """A problem with the user's model or arguments. exit_code is what the CLI returns."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UnsupportedOpError(ExportError):
    def __init__(self, message: str, target: str | None = None,
                 node_name: str | None = None) -> None:
        super().__init__(message, exit_code=2)
        self.target = target
        self.node_name = node_name
