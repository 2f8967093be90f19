"""Benchmarks of the queue server that print figures; they never assert a time.

Run `python -m bench` (see bench/README.md). The server always runs in its own process, as
`infrax queue`, so that the load generator and the server share neither an event loop nor a GIL.
"""
