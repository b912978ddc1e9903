"""The feature space shared by detectors that need distances: a scaled, reduced matrix and its nearest neighbours."""
