"""queue_server."""
