"""The pipeline's consumer processes and the plumbing they share (services.common)."""
