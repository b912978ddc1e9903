"""Thin Prefect tasks over :mod:`labelaudit`: retries, caching, logging and artifacts, no audit logic."""
