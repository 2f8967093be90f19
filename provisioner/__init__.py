"""The provisioner: worker pools, the scaling loop, providers (protocol.md, "Worker-manager")."""
