"""Prefect flows: thin wrappers over the `monitor` library (the only place Prefect is used)."""
