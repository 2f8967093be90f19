"""Engines run a job: `docker` (containers through the Docker Engine API) and `process` (plain
processes in a task directory). The run talks to them only through base.py's Protocols."""
