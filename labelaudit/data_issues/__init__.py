"""Data issues beyond wrong labels: duplicates, conflicting duplicates, near duplicates, outliers, leakage, drift
and class imbalance, each a plain function over a batch (and, for leakage and drift, the dataset's history)."""
