"""Dispatcher: calls the route's providers in order, failing over on error or timeout."""
