"""The provisioner's endpoint handlers; importing this package registers them."""

from . import health, pools, registration, workers  # noqa: F401
