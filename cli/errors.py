"""What a command can fail with, and the exit code each one ends the process with (as `az`)."""


class CliError(Exception):
    """Printed as `ERROR: <message>` on stderr; exit code 1."""

    exit_code = 1


class UsageError(CliError):
    """A missing or wrong argument, reported like argparse's own usage errors; exit code 2."""

    exit_code = 2


class ApiError(CliError):
    """The studio answered with an error body: {"error": {"code": ..., "message": ...}}."""

    def __init__(self, message: str, *, code: str = "", status: int = 0):
        super().__init__(f"({code}) {message}" if code else message)
        self.code = code
        self.status = status
