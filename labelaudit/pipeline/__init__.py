"""The audit's stages, one module per question, each computing its result and writing its tables (the lists
in :data:`labelaudit.store.schema.STAGE_TABLES`) in one transaction.

``ingest`` → ``validate`` → ``labels`` → ``fit`` → ``score`` → ``labelers`` → ``gate``; every stage records
itself through :mod:`labelaudit.pipeline.recording`. Out-of-core scoring of a probabilities file adds
:mod:`~labelaudit.pipeline.streamed` (with its table, checks and streamed I/O); the labeler maths is
:mod:`~labelaudit.pipeline.labeler_profiles`. The report is published by :mod:`labelaudit.report.publish`.
"""
