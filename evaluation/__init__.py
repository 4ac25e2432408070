"""Offline evaluations run by `make eval` (the local-model comparison lives in local_models)."""
