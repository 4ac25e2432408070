"""`python -m bench`: pipeline overhead and throughput against the direct path."""
