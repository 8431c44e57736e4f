class ImportFileError(Exception):
    """A file that cannot be imported. The message is for the person who uploaded it; ``code``
    lets tests and callers tell the cases apart."""

    def __init__(self, message: str, code: str = "unreadable"):
        super().__init__(message)
        self.message = message
        self.code = code


class ImportSetupError(Exception):
    """The mapping, consent or options chosen for an import are not usable; the message says why."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
