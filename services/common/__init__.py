"""Plumbing shared by every service: settings, Kafka producer/worker, topics, Redis keys.

Nothing business-specific lives here; no Kafka code lives in the handlers.
"""
