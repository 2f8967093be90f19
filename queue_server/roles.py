"""Roles from the roles file (protocol.md, "Roles"): `{roleId: [scope, ...]}` in YAML or JSON.

The file is read once at start. A role `hook-id:<hookGroupId>/<hookId>` (or `hook-id:<group>/*`)
is what limits the tasks a hook creates; `repo:github.com/<org>/<repo>:*` roles serve decision
tasks the same way. The `anonymous` role is not read from here (INFRAX_ANONYMOUS_SCOPES).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from clients.protocol.scopes import is_valid_scope

__all__ = ["RolesFileError", "load_roles"]


class RolesFileError(ValueError):
    """The roles file cannot be read or does not have the expected shape."""


def load_roles(path: Path | None) -> dict[str, list[str]]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RolesFileError(f"cannot read the roles file {path}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RolesFileError(f"{path}: expected a mapping of roleId to a list of scopes")
    roles: dict[str, list[str]] = {}
    for role_id, scopes in data.items():
        if not isinstance(role_id, str) or not role_id or role_id == "anonymous":
            raise RolesFileError(f"{path}: {role_id!r} is not a usable roleId")
        if not isinstance(scopes, list) or not all(
            isinstance(s, str) and is_valid_scope(s) for s in scopes
        ):
            raise RolesFileError(f"{path}: role {role_id!r} must list printable-ASCII scopes")
        roles[role_id] = list(scopes)
    return roles
