"""MLflow endpoints: metrics."""

ROUTES = []
