"""MLflow endpoints: logged_models."""

ROUTES = []
