"""Data issues beyond wrong labels: duplicates, conflicting duplicates, near duplicates, outliers, leakage, drift
and class imbalance, each a plain function over a batch (and, for leakage and drift, the dataset's history).

Row-level detectors return findings in the shape of the ``data_issues`` view (``run_id, row_id, issue_type,
score, is_issue, group_id, detail``; score in [0, 1], lower is more severe, as in cleanlab Datalab):

- :mod:`.hashing`: a stable 64-bit hash per row of the normalised features (chunk by chunk, Dask partitions);
- :mod:`.duplicates`: ``exact_duplicate`` and ``conflicting_duplicate`` groups from the hashes;
- :mod:`.leakage`: ``leaked_duplicate``, rows repeating an earlier batch's row (earlier hashes, never rows);
- :mod:`.near_duplicates`, :mod:`.outliers`: from nearest neighbours in :mod:`labelaudit.features`.

Batch-level detectors return one small typed result for their own table:

- :mod:`.drift`: the class mix against the accepted history (chi-square p-value, PSI, new/vanished classes);
- :mod:`.imbalance`: classes below a fraction of an even share.
"""
