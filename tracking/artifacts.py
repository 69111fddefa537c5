"""MLflow endpoints: artifacts."""

ROUTES = []
