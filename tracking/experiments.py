"""MLflow endpoints: experiments."""

ROUTES = []
