"""``pytest -n N --gpuperf``: devices per worker, locks, and records shipped home."""
