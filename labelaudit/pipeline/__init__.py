"""The audit's stages, one module per question, each computing its result and writing its tables in one transaction."""
