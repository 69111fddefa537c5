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


class WithoutRoutineTasks(logging.Filter):
    """Drop the "received" and "succeeded" lines of the scheduler's periodic tasks (job dispatch,
    heartbeats): a line every few seconds that says nothing. Their failures still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or not isinstance(record.args, dict):
            return True
        from django.conf import settings

        routine = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
        return record.args.get("name") not in routine
