"""An exception class the caller has not imported when the daemon raises it."""


class CommandFailed(Exception):
    def __init__(self, exit_code, stderr):
        super().__init__(exit_code, stderr)
        self.exit_code = exit_code
        self.stderr = stderr
