"""`python -m demo`: a dozen sample questions through the running stack."""
