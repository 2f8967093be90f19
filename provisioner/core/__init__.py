"""The provisioner's pure decisions: no I/O, the clock passed in."""
