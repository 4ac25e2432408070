"""Classifier: reads queries, infers complexity/live-data/type/cost, publishes a route."""
