"""Choosing the S3 blob store (`--blob-store`, INFRAX_BLOB_STORE) and what happens at startup:
a missing bucket is created; a configuration that cannot work (no endpoint answering, no
credentials, a bad URL, artifacts larger than S3 takes) stops the queue before it serves,
saying what is wrong, rather than failing requests later."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from queue_server.app import open_blobs
from queue_server.artifacts import BlobStoreConfigError
from queue_server.settings import parse_settings
from tests.conftest import queue_settings
from tests.s3 import MotoS3


def open_and_close(url: str, tmp_path: Path, **overrides: object) -> None:
    settings = queue_settings(tmp_path, blob_store=url, **overrides)

    async def main() -> None:
        blobs = await open_blobs(settings)
        await blobs.close()

    asyncio.run(main())


def test_a_missing_bucket_is_created_and_an_existing_one_used(
    moto_s3: MotoS3, tmp_path: Path
) -> None:
    url = moto_s3.url("infrax-made-at-startup")
    open_and_close(url, tmp_path)
    assert moto_s3.client().head_bucket(Bucket="infrax-made-at-startup")
    open_and_close(url, tmp_path)


def test_configurations_that_cannot_work_stop_the_queue_saying_why(
    moto_s3: MotoS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = "s3://infrax-x/p?endpoint=http://127.0.0.1:9&region=us-east-1"
    with pytest.raises(BlobStoreConfigError, match="cannot reach the S3 endpoint"):
        open_and_close(closed, tmp_path)
    with pytest.raises(BlobStoreConfigError, match="at most 5 GiB"):
        open_and_close(moto_s3.url(), tmp_path, max_artifact_bytes=6 * 1024**3)
    with pytest.raises(BlobStoreConfigError, match="at most 7 days"):
        open_and_close(moto_s3.url(), tmp_path, download_url_ttl_s=8 * 86_400.0)
    with pytest.raises(BlobStoreConfigError, match="must not hold credentials"):
        open_and_close("s3://key:secret@infrax-x/p", tmp_path)
    with pytest.raises(BlobStoreConfigError, match="unknown option 'endpiont'"):
        open_and_close("s3://infrax-x/p?endpiont=http://x", tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(BlobStoreConfigError, match="no AWS credentials"):
        open_and_close(moto_s3.url(), tmp_path)


def test_the_flag_and_variable_choose_the_store(tmp_path: Path) -> None:
    url = "s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1"
    assert parse_settings(["--blob-store", url], {}).blob_store == url
    assert parse_settings([], {"INFRAX_BLOB_STORE": url}).blob_store == url
    assert parse_settings([], {}).blob_store is None
    with pytest.raises(SystemExit):
        parse_settings(["--blob-store", "gs://bucket"], {})
