"""The temporary credentials of a registered worker (protocol.md, "Worker registration").

Pure. Named temporary credentials signed with the provisioner's own (permanent) client:
clientId `worker/<providerId>/<workerPoolId>/<workerGroup>/<workerId>`, valid from 15 minutes
ago (clock skew) until the reregistration deadline, with the scopes of core/pools.py. The
queue accepts them because the provisioner's client holds `auth:create-client:worker/*` and
every scope it hands out.
"""

from __future__ import annotations

from clients import hawk
from clients.protocol.worker_manager import WorkerCredentials

from .pools import worker_client_id, worker_scopes

__all__ = ["SKEW_MS", "mint_worker_credentials"]

SKEW_MS = 15 * 60_000


def mint_worker_credentials(
    issuer: hawk.Credentials,
    provider_id: str,
    key: tuple[str, str, str],
    now_ms: int,
    expires_ms: int,
) -> WorkerCredentials:
    pool, group, worker_id = key
    made = hawk.create_temporary_credentials(
        issuer_client_id=issuer.client_id,
        issuer_access_token=issuer.access_token,
        start_ms=now_ms - SKEW_MS,
        expiry_ms=expires_ms,
        scopes=worker_scopes(pool, group, worker_id),
        name=worker_client_id(provider_id, pool, group, worker_id),
    )
    assert made.certificate is not None
    return WorkerCredentials(
        client_id=made.client_id, access_token=made.access_token, certificate=made.certificate
    )
