"""Scorer: turns a completion into a scored, explained response."""
