"""Reusable test helpers: a local webhook receiver and a real Celery worker process."""
