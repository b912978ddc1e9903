"""Out-of-fold predicted probabilities: the cross-validated models the audit fits."""
