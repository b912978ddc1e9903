"""What comes in: dataset definitions, the checks before any machinery, and the readers of batches."""
