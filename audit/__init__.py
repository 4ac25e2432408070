"""`python -m audit`: explain and check what the system did, from the topics alone.

The Kafka log is the system of record. Every command here reads the topics with an
explicit assignment at the offsets for a time (`offsets_for_times`), never through a
consumer group, so running it moves nobody's offsets:

- `reader.py`: read a time window of several topics (assign, positions, progress);
- `trail.py`: one analysis's events put together (query to feedback);
- `window.py`: one row per analysis of a window, with totals (`replay`);
- `verify.py`: gaps in a window (`verify`, exit code 1 when any is found);
- `whatif.py`: the recorded queries re-decided by another router or policy;
- `accuracy.py`: the graded outcomes per model (the scorer's Redis counts, rebuilt);
- `calibrate.py`: graded answers read, the fit (core/calibration.py) reported and published;
- `options.py`: the command line's `TIME` and `--format` parameters;
- `output.py`: tables for people, JSON and CSV for machines.
"""
