"""Prefect flows (the DAG of an audit) and the ``labelaudit`` command line that launches them."""
