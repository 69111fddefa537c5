"""MLflow endpoints: registry."""

ROUTES = []
