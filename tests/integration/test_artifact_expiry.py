"""Expiry: expired artifacts answer 410, then the sweeper deletes their rows and their bytes;
tasks take their artifacts with them; abandoned uploads go; signed URLs stop working."""

from __future__ import annotations

import time
import urllib.parse

import pytest
import requests
import taskcluster
import taskcluster.upload
from taskcluster.exceptions import TaskclusterRestFailure

from queue_server.keys import BLOBS, STORE
from queue_server.resolvers import sweep_artifacts, sweep_expired
from tests.conftest import RunningQueue

from .artifact_helpers import Run, blob_files, claimed_run, expires_in, put_bytes

DAY_MS = 86_400_000


@pytest.fixture
def queue_overrides() -> dict[str, object]:
    return {"download_url_ttl_s": 1.0, "upload_url_ttl_s": 1.0}


def status_of(call: object, *args: object) -> int:
    with pytest.raises(TaskclusterRestFailure) as raised:
        call(*args)  # type: ignore[operator]
    return raised.value.status_code  # type: ignore[no-any-return]


def sweep(queue: RunningQueue, now_ms: int | None = None) -> int:
    app = queue.runner.app
    return queue.call(sweep_artifacts(app[STORE], app[BLOBS], now_ms))  # type: ignore[return-value]


def uploaded(run: Run, name: str, data: bytes, expires: str) -> str:
    created = run.create(name, storageType="s3", contentType="a/b", expires=expires)
    assert put_bytes(created["putUrl"], data, "a/b").status_code == 200
    return created["putUrl"]  # type: ignore[no-any-return]


def test_expired_artifacts_answer_410_and_are_swept_with_their_bytes(queue: RunningQueue) -> None:
    run = claimed_run(queue)
    a_minute_ago = expires_in("-1 minute")
    uploaded(run, "public/old", b"old bytes", a_minute_ago)
    run.create("public/old-link", storageType="link", artifact="public/old", expires=a_minute_ago)
    run.create(
        "public/old-ref",
        storageType="reference",
        url="https://x/",
        contentType="a/b",
        expires=a_minute_ago,
    )
    uploaded(run, "public/new", b"new bytes", expires_in("1 day"))
    assert len(blob_files(queue)) == 2

    for name in ("public/old", "public/old-ref", "public/old-link"):
        assert status_of(run.anonymous.getArtifact, run.task_id, 0, name) == 410
        assert status_of(run.anonymous.artifact, run.task_id, 0, name) == 410
    run.create("public/to-old", storageType="link", artifact="public/old")
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "public/to-old") == 410
    assert len(run.root.listArtifacts(run.task_id, 0)["artifacts"]) == 5  # until swept

    assert sweep(queue) == 3  # the three artifacts (public/old's object goes with it)
    names = [a["name"] for a in run.root.listArtifacts(run.task_id, 0)["artifacts"]]
    assert names == ["public/new", "public/to-old"]
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "public/old") == 404
    assert len(blob_files(queue)) == 1
    url = run.anonymous.getArtifact(run.task_id, 0, "public/new")["url"]
    assert requests.get(url, timeout=30).content == b"new bytes"


class TestBackgroundSweeper:
    @pytest.fixture
    def queue_overrides(self) -> dict[str, object]:
        return {"expiry_interval_s": 0.2}

    def test_the_sweeper_runs_by_itself(self, queue: RunningQueue) -> None:
        run = claimed_run(queue)
        # Expiring a few seconds after its upload, not before it: an artifact created already
        # expired can be swept between its createArtifact and its PUT (a 404 for the PUT).
        uploaded(run, "public/old", b"old", expires_in("5 seconds"))
        deadline = time.monotonic() + 60
        while blob_files(queue) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert blob_files(queue) == []
        assert run.root.listArtifacts(run.task_id, 0)["artifacts"] == []


def test_a_deleted_task_takes_its_artifacts_and_their_bytes(queue: RunningQueue) -> None:
    run = claimed_run(queue)
    uploaded(run, "public/a", b"a", expires_in("1 day"))
    run.worker.reportCompleted(run.task_id, 0)
    store = queue.runner.app[STORE]
    later = int(time.time() * 1000) + 2 * 366 * DAY_MS
    assert queue.call(sweep_expired(store, later)) == 1
    assert status_of(run.anonymous.listArtifacts, run.task_id, 0) == 404
    assert len(blob_files(queue)) == 1  # loose now, deleted by the next artifact sweep
    sweep(queue, later)
    assert blob_files(queue) == []


def test_an_upload_never_finished_is_abandoned_after_a_day(queue: RunningQueue) -> None:
    objects = taskcluster.Object(queue.root_options())
    answer = objects.createUpload("scratch/never-finished", {
        "projectId": "p", "uploadId": taskcluster.slugId(), "expires": expires_in("1 year"),
        "proposedUploadMethods": {"dataInline": {"contentType": "a/b", "objectData": "aGVsbG8="}},
    })  # fmt: skip
    assert answer["uploadMethod"] == {"dataInline": True}
    assert len(blob_files(queue)) == 1
    assert sweep(queue) == 0
    assert sweep(queue, int(time.time() * 1000) + DAY_MS + 60_000) == 1
    assert blob_files(queue) == []
    assert status_of(objects.object, "scratch/never-finished") == 404


def wait_past(url: str) -> None:
    """Until the wall clock passes the URL's `expires` (a known instant, not a guess)."""
    expires_ms = int(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["expires"][0])
    time.sleep(max(0.0, expires_ms / 1000 - time.time()) + 0.05)


def test_signed_urls_expire(queue: RunningQueue) -> None:
    run = claimed_run(queue)
    created = run.create("public/s", storageType="s3", contentType="a/b")
    wait_past(created["putUrl"])
    late = put_bytes(created["putUrl"], b"late", "a/b")
    assert late.status_code == 401
    assert "expired" in late.json()["message"]
    fresh = run.create("public/s", storageType="s3", contentType="a/b")  # a new URL
    assert put_bytes(fresh["putUrl"], b"bytes", "a/b").status_code == 200

    url = run.anonymous.getArtifact(run.task_id, 0, "public/s")["url"]
    assert requests.get(url, timeout=30).content == b"bytes"
    wait_past(url)
    expired = requests.get(url, timeout=30)
    assert expired.status_code == 401
    assert expired.json()["code"] == "AuthenticationFailed"
    again = run.anonymous.getArtifact(run.task_id, 0, "public/s")["url"]
    assert requests.get(again, timeout=30).content == b"bytes"
