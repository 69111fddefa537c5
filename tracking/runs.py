"""MLflow endpoints: runs."""

ROUTES = []
