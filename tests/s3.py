"""S3 for the tests: moto's standalone S3 server on 127.0.0.1 (port 0), started once per run.

No real S3 is reachable here; moto's server speaks the S3 REST API over HTTP, so the queue's
S3 blob store (boto3), presigned URLs and the clients' plain HTTP PUTs and GETs all go
through a real socket as they would to S3. Each queue gets a bucket of its own, which the
store creates at startup. moto checks neither credentials nor signatures, nor S3's checksum
headers: what these tests show is what the queue itself verifies.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

__all__ = ["BLOB_STORES", "S3_ENV", "MotoS3", "both_blob_stores", "moto_s3"]

# What the queue's AWS SDK reads; moto accepts any credentials.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "infrax-test-key",
    "AWS_SECRET_ACCESS_KEY": "infrax-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BLOB_STORES = [pytest.param("local", id="local"), pytest.param("s3", id="s3")]
# A test (or module, as `pytestmark`) run on the local-disk store and on S3 alike.
both_blob_stores = pytest.mark.parametrize("blob_store", BLOB_STORES, indirect=True)


@dataclass
class MotoS3:
    endpoint: str

    def url(self, bucket: str | None = None, prefix: str = "blobs") -> str:
        """A --blob-store URL of a fresh bucket (or `bucket`) on this server."""
        bucket = bucket or f"infrax-{secrets.token_hex(6)}"
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region=us-east-1"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}),
        )

    def keys(self, blob_store_url: str) -> list[str]:
        """Every key in the bucket of `blob_store_url`."""
        bucket = blob_store_url.removeprefix("s3://").split("/", 1)[0]
        listed = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in S3_ENV.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        try:
            yield MotoS3(f"http://{host}:{port}")
        finally:
            server.stop()
