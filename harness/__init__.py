"""Running our own processes and topics for a test, a benchmark or a chaos run.

The tests, `bench/` and `chaos/` all start the services, the app and the emulator as
real subprocesses in a namespace of their own and clean up after them; this package is
that shared machinery, so the measuring tools never import the tests:

- `processes`: a managed child process with its log, the app under gunicorn, a
  `python -m` service, free ports, unique namespaces and their environment;
- `emulator_process`: the provider emulator as a process, with its control API;
- `kafka`: a producer, a topic reader, and deleting a namespace's topics and keys.
"""
