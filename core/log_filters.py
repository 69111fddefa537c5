"""Filters for the LOGGING setting."""

import logging


class WithoutTraceback(logging.Filter):
    """Log the message alone: for expected refusals (a request with a foreign Host header) whose
    traceback says nothing and lets anyone fill the log with screens of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True
