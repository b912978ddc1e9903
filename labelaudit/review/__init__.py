"""After the audit: reviewers' verdicts, the feedback loop against the database, and cleaned exports."""
