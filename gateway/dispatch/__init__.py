"""Dispatch: routing, the job outbox, workers, retries and deadlines."""
