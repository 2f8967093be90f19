"""Artifacts of every storage type through the official client: creation, reading, links,
error artifacts, immutability, the window after an exception, scopes and artifact-created."""

from __future__ import annotations

import hashlib
import os

import pytest
import requests
import taskcluster
import taskcluster.download
from taskcluster.exceptions import TaskclusterArtifactError, TaskclusterRestFailure

from clients.protocol.events import ArtifactCreated, Exchange, Message
from tests.conftest import RunningQueue
from tests.s3 import both_blob_stores

from .artifact_helpers import Run, claimed_run, expires_in, put_bytes


@pytest.fixture
def run(queue: RunningQueue) -> Run:
    return claimed_run(queue)


def status_of(call: object, *args: object, **kwargs: object) -> int:
    with pytest.raises(TaskclusterRestFailure) as raised:
        call(*args, **kwargs)  # type: ignore[operator]
    return raised.value.status_code  # type: ignore[no-any-return]


def created_events(queue: RunningQueue, task_id: str) -> list[Message]:
    return [
        m
        for m in queue.messages
        if m.exchange is Exchange.artifact_created
        and isinstance(m.body, ArtifactCreated)
        and m.body.status.task_id == task_id
    ]


# -- s3 ----------------------------------------------------------------------------------------


def test_s3_artifact_is_put_to_a_signed_url_and_read_back(queue: RunningQueue, run: Run) -> None:
    data = os.urandom(3000)
    created = run.create("public/build/app.bin", storageType="s3", contentType="application/x-app")
    assert created["storageType"] == "s3"
    assert created["contentType"] == "application/x-app"
    assert created["putUrl"].startswith(f"{queue.root_url}/api/queue/v1/blobs/")
    assert "signature=" in created["putUrl"]
    # Until its bytes are stored the artifact is not there.
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "public/build/app.bin") == 404
    assert run.root.listArtifacts(run.task_id, 0)["artifacts"] == []
    response = put_bytes(created["putUrl"], data, "application/x-app")
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'

    got = run.anonymous.getArtifact(run.task_id, 0, "public/build/app.bin")
    assert got["storageType"] == "s3"
    fetched = requests.get(got["url"], timeout=30)
    assert fetched.content == data
    assert fetched.headers["Content-Type"] == "application/x-app"
    buf, content_type = taskcluster.download.downloadArtifactToBuf(
        taskId=run.task_id, runId=0, name="public/build/app.bin", queueService=run.anonymous
    )
    assert (bytes(buf), content_type) == (data, "application/x-app")
    listed = run.root.listArtifacts(run.task_id, 0)["artifacts"]
    assert [(a["name"], a["storageType"]) for a in listed] == [("public/build/app.bin", "s3")]
    assert created_events(queue, run.task_id) == []  # never for s3, as in Taskcluster


@both_blob_stores
def test_get_artifact_redirects_with_303_and_the_storage_type(
    queue: RunningQueue, run: Run
) -> None:
    created = run.create("public/a.txt", storageType="s3", contentType="text/plain")
    assert put_bytes(created["putUrl"], b"hello", "text/plain").status_code == 200
    url = f"{queue.root_url}/api/queue/v1/task/{run.task_id}/runs/0/artifacts/public%2Fa.txt"
    answer = requests.get(url, allow_redirects=False, timeout=30)
    assert answer.status_code == 303
    assert answer.headers["x-taskcluster-artifact-storage-type"] == "s3"
    assert answer.json() == {"storageType": "s3", "url": answer.headers["Location"]}
    followed = requests.get(url, timeout=30)  # what a browser or curl -L does
    assert (followed.status_code, followed.text) == (200, "hello")


def test_a_second_put_must_carry_the_same_bytes(run: Run) -> None:
    created = run.create("public/once", storageType="s3", contentType="text/plain")
    assert put_bytes(created["putUrl"], b"first", "text/plain").status_code == 200
    assert put_bytes(created["putUrl"], b"first", "text/plain").status_code == 200
    assert put_bytes(created["putUrl"], b"other", "text/plain").status_code == 409
    again = run.create("public/once", storageType="s3", contentType="text/plain")
    assert put_bytes(again["putUrl"], b"other", "text/plain").status_code == 409
    url = run.anonymous.getArtifact(run.task_id, 0, "public/once")["url"]
    assert requests.get(url, timeout=30).content == b"first"


def test_gzip_bytes_are_stored_as_sent_and_served_with_their_encoding(run: Run) -> None:
    import gzip

    text = b"line of a log\n" * 1000
    packed = gzip.compress(text)
    created = run.create("public/logs/live.log", storageType="s3", contentType="text/plain")
    sent = put_bytes(created["putUrl"], packed, "text/plain", **{"Content-Encoding": "gzip"})
    assert sent.status_code == 200
    assert sent.headers["ETag"] == f'"{hashlib.sha256(packed).hexdigest()}"'
    url = run.anonymous.getArtifact(run.task_id, 0, "public/logs/live.log")["url"]
    raw = requests.get(url, stream=True, timeout=30)
    assert raw.headers["Content-Encoding"] == "gzip"
    assert raw.raw.read() == packed  # the stored bytes, still compressed
    assert requests.get(url, timeout=30).content == text  # an HTTP client decodes them


@both_blob_stores
def test_range_requests_resume_a_download(run: Run) -> None:
    data = os.urandom(100_000)
    created = run.create("public/big", storageType="s3", contentType="application/octet-stream")
    assert put_bytes(created["putUrl"], data).status_code == 200
    url = run.anonymous.getArtifact(run.task_id, 0, "public/big")["url"]
    part = requests.get(url, headers={"Range": "bytes=40000-"}, timeout=30)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == "bytes 40000-99999/100000"
    assert part.content == data[40000:]
    middle = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=30)
    assert (middle.status_code, middle.content) == (206, data[10:20])
    assert requests.get(url, headers={"Range": "bytes=200000-"}, timeout=30).status_code == 416
    head = requests.head(url, timeout=30)
    assert (head.status_code, head.headers["Content-Length"]) == (200, "100000")


# -- reference, link, error ------------------------------------------------------------------------


@both_blob_stores
def test_reference_redirects_verbatim_and_may_change_its_url(queue: RunningQueue, run: Run) -> None:
    first = "https://example.com/a?b=1"
    assert run.create(
        "public/ref", storageType="reference", url=first, contentType="text/html"
    ) == {"storageType": "reference"}
    assert run.anonymous.getArtifact(run.task_id, 0, "public/ref") == {
        "storageType": "reference",
        "url": first,
    }
    run.create(
        "public/ref", storageType="reference", url="https://example.com/b", contentType="text/html"
    )
    content = run.anonymous.artifact(run.task_id, 0, "public/ref")
    assert content == {"storageType": "reference", "url": "https://example.com/b"}
    # A link may replace a reference, keeping its content type.
    run.create("public/target", storageType="error", reason="file-missing-on-worker", message="m")
    run.create("public/ref", storageType="link", artifact="public/target")
    info = run.root.artifactInfo(run.task_id, 0, "public/ref")
    assert (info["storageType"], info["contentType"]) == ("link", "text/html")
    events = created_events(queue, run.task_id)
    assert [m.body.artifact.storage_type for m in events] == [  # type: ignore[union-attr]
        "reference",
        "reference",
        "error",
        "link",
    ]
    body = events[0].body
    assert isinstance(body, ArtifactCreated)
    assert (body.run_id, body.worker_group, body.worker_id) == (0, "wg", "wi")
    assert events[0].routing_key.startswith(f"primary.{run.task_id}.0.wg.wi.")


@both_blob_stores
def test_links_are_followed_and_cycles_refused(run: Run) -> None:
    created = run.create("public/real", storageType="s3", contentType="text/plain")
    assert put_bytes(created["putUrl"], b"real", "text/plain").status_code == 200
    run.create("public/l1", storageType="link", artifact="public/l2")
    run.create("public/l2", storageType="link", artifact="public/real")
    got = run.anonymous.getArtifact(run.task_id, 0, "public/l1")
    assert got["storageType"] == "s3"
    assert requests.get(got["url"], timeout=30).content == b"real"
    buf, _ = taskcluster.download.downloadArtifactToBuf(
        taskId=run.task_id, runId=0, name="public/l1", queueService=run.anonymous
    )
    assert bytes(buf) == b"real"
    assert run.root.artifactInfo(run.task_id, 0, "public/l1")["storageType"] == "link"

    run.create("public/c1", storageType="link", artifact="public/c2")
    run.create("public/c2", storageType="link", artifact="public/c1")
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "public/c1") == 400
    assert status_of(run.anonymous.artifact, run.task_id, 0, "public/c2") == 400
    run.create("public/self", storageType="link", artifact="public/self")
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "public/self") == 400
    run.create("public/dangling", storageType="link", artifact="public/nothing")
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "public/dangling") == 404


@both_blob_stores
def test_a_link_needs_the_scope_of_every_name_on_the_way(run: Run) -> None:
    created = run.create("private/secret", storageType="s3", contentType="text/plain")
    assert put_bytes(created["putUrl"], b"secret", "text/plain").status_code == 200
    run.create("public/innocent", storageType="link", artifact="private/secret")
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "public/innocent") == 403
    assert status_of(run.anonymous.artifact, run.task_id, 0, "public/innocent") == 403
    got = run.root.getArtifact(run.task_id, 0, "public/innocent")
    assert requests.get(got["url"], timeout=30).content == b"secret"


@both_blob_stores
def test_error_artifacts_answer_424_and_the_helpers_raise(queue: RunningQueue, run: Run) -> None:
    run.create(
        "public/missing.txt",
        storageType="error",
        reason="file-missing-on-worker",
        message="no such file: missing.txt",
    )
    url = f"{queue.root_url}/api/queue/v1/task/{run.task_id}/runs/0/artifacts/public%2Fmissing.txt"
    answer = requests.get(url, allow_redirects=False, timeout=30)
    assert answer.status_code == 424
    assert answer.json() == {
        "reason": "file-missing-on-worker",
        "message": "no such file: missing.txt",
    }
    assert answer.headers["x-taskcluster-artifact-storage-type"] == "error"
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "public/missing.txt") == 424
    assert run.anonymous.artifact(run.task_id, 0, "public/missing.txt") == {
        "storageType": "error",
        "reason": "file-missing-on-worker",
        "message": "no such file: missing.txt",
    }
    with pytest.raises(TaskclusterArtifactError, match="no such file"):
        taskcluster.download.downloadArtifactToBuf(
            taskId=run.task_id, runId=0, name="public/missing.txt", queueService=run.anonymous
        )


# -- immutability and timing -----------------------------------------------------------------------


@both_blob_stores
def test_repeats_are_idempotent_and_changes_conflict(run: Run) -> None:
    expires = expires_in("1 day")
    body = {"storageType": "s3", "contentType": "text/plain", "expires": expires}
    first = run.create("public/x", **body)
    again = run.create("public/x", **body)
    assert again["putUrl"].split("?")[0] == first["putUrl"].split("?")[0]
    assert (
        run.create("public/x", **{**body, "expires": expires_in("2 days")})["storageType"] == "s3"
    )
    for change in (
        {"contentType": "text/html"},
        {"expires": expires_in("1 hour")},
        {"storageType": "object"},
        {"contentLength": 5},
    ):
        assert status_of(run.create, "public/x", **{**body, **change}) == 409, change
    run.create("public/e", storageType="error", reason="file-missing-on-worker", message="a")
    assert (
        status_of(
            run.create,
            "public/e",
            storageType="error",
            reason="file-missing-on-worker",
            message="b",
        )
        == 409
    )
    assert (
        status_of(
            run.create, "public/e", storageType="reference", url="https://x/", contentType="a/b"
        )
        == 409
    )
    run.create("public/l", storageType="link", artifact="public/e")
    assert status_of(run.create, "public/l", storageType="link", artifact="public/x") == 409


@both_blob_stores
def test_artifacts_follow_the_run_state(queue: RunningQueue) -> None:
    completed = claimed_run(queue)
    completed.worker.reportCompleted(completed.task_id, 0)
    assert status_of(completed.create, "public/late", storageType="s3", contentType="a/b") == 409

    excepted = claimed_run(queue)
    excepted.worker.reportException(excepted.task_id, 0, {"reason": "internal-error"})
    late = excepted.create("public/log", storageType="s3", contentType="text/plain")
    assert put_bytes(late["putUrl"], b"log", "text/plain").status_code == 200
    assert excepted.root.listArtifacts(excepted.task_id, 0)["artifacts"][0]["name"] == "public/log"


@both_blob_stores
def test_a_run_never_claimed_and_an_unknown_task_are_input_errors(queue: RunningQueue) -> None:
    root = taskcluster.Queue(queue.root_options())
    run = claimed_run(queue)
    assert status_of(root.createArtifact, run.task_id, 1, "public/x", {
        "storageType": "s3", "contentType": "a/b", "expires": expires_in("1 day")
    }) == 400  # fmt: skip
    unknown = taskcluster.slugId()
    assert status_of(root.createArtifact, unknown, 0, "public/x", {
        "storageType": "s3", "contentType": "a/b", "expires": expires_in("1 day")
    }) == 400  # fmt: skip
    assert (
        status_of(
            run.create,
            "public/x",
            storageType="s3",
            contentType="a/b",
            expires=expires_in("2 years"),
        )
        == 400
    )


@both_blob_stores
def test_latest_endpoints_read_the_last_run(queue: RunningQueue) -> None:
    first = claimed_run(queue, retries=1)
    first.create("public/which", storageType="reference", url="https://x/0", contentType="a/b")
    first.worker.reportException(first.task_id, 0, {"reason": "worker-shutdown"})
    claim = first.root.claimWork("prov/artifacts", {"workerGroup": "wg", "workerId": "wi"})
    (claimed,) = claim["tasks"]
    assert claimed["runId"] == 1
    second = taskcluster.Queue(queue.options(claimed["credentials"]))
    second.createArtifact(first.task_id, 1, "public/which", {
        "storageType": "reference", "url": "https://x/1", "contentType": "a/b",
        "expires": expires_in("1 day"),
    })  # fmt: skip
    assert first.anonymous.getLatestArtifact(first.task_id, "public/which")["url"] == "https://x/1"
    assert first.anonymous.getArtifact(first.task_id, 0, "public/which")["url"] == "https://x/0"
    assert first.anonymous.latestArtifact(first.task_id, "public/which")["url"] == "https://x/1"
    latest = first.anonymous.listLatestArtifacts(first.task_id)["artifacts"]
    assert [a["name"] for a in latest] == ["public/which"]
    assert (
        first.anonymous.latestArtifactInfo(first.task_id, "public/which")["storageType"]
        == "reference"
    )
    assert status_of(first.anonymous.listArtifacts, first.task_id, 5) == 404
    never = taskcluster.slugId()
    assert status_of(first.anonymous.getLatestArtifact, never, "public/which") == 404


@both_blob_stores
def test_listings_page_by_name(run: Run) -> None:
    for index in range(5):
        run.create(f"public/f{index}", storageType="reference", url="https://x/", contentType="a/b")
    first = run.root.listArtifacts(run.task_id, 0, query={"limit": 2})
    assert [a["name"] for a in first["artifacts"]] == ["public/f0", "public/f1"]
    names: list[str] = []
    run.root.listArtifacts(
        run.task_id,
        0,
        paginationHandler=lambda page: names.extend(a["name"] for a in page["artifacts"]),
        paginationLimit=2,
    )
    assert names == [f"public/f{i}" for i in range(5)]


# -- scopes ------------------------------------------------------------------------------------------


@both_blob_stores
def test_public_names_are_anonymous_and_others_need_the_scope(
    queue: RunningQueue, run: Run
) -> None:
    for name in ("public/open", "private/closed"):
        created = run.create(name, storageType="s3", contentType="text/plain")
        assert put_bytes(created["putUrl"], name.encode(), "text/plain").status_code == 200
    assert run.anonymous.getArtifact(run.task_id, 0, "public/open")["storageType"] == "s3"
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "private/closed") == 403
    assert status_of(run.anonymous.artifact, run.task_id, 0, "private/closed") == 403
    assert status_of(run.anonymous.getLatestArtifact, run.task_id, "private/closed") == 403
    with pytest.raises(TaskclusterRestFailure) as raised:
        run.anonymous.getArtifact(run.task_id, 0, "private/closed")
    assert "queue:get-artifact:private/closed" in raised.value.body["message"]
    # Listing is anonymous by default and shows metadata only.
    assert len(run.anonymous.listArtifacts(run.task_id, 0)["artifacts"]) == 2

    auth = taskcluster.Auth(queue.root_options())
    reader = auth.createClient(
        "reader/private",
        {
            "expires": expires_in("1 hour"),
            "description": "reads",
            "scopes": ["queue:get-artifact:private/*"],
        },
    )
    client = taskcluster.Queue(
        queue.options({"clientId": reader["clientId"], "accessToken": reader["accessToken"]})
    )
    got = client.getArtifact(run.task_id, 0, "private/closed")
    assert requests.get(got["url"], timeout=30).content == b"private/closed"
    # Creating needs the run's scope: a reader cannot.
    assert status_of(client.createArtifact, run.task_id, 0, "public/y", {
        "storageType": "s3", "contentType": "a/b", "expires": expires_in("1 day")
    }) == 403  # fmt: skip


def test_a_signed_url_needs_no_credentials_but_cannot_be_forged(run: Run) -> None:
    created = run.create("private/p", storageType="s3", contentType="text/plain")
    assert put_bytes(created["putUrl"], b"p", "text/plain").status_code == 200
    url = run.root.getArtifact(run.task_id, 0, "private/p")["url"]
    assert requests.get(url, timeout=30).content == b"p"
    forged = url.replace("private%2Fp", "private%2Fq")
    assert requests.get(forged, timeout=30).status_code == 401
    unsigned = url.split("?")[0]
    answer = requests.get(unsigned, timeout=30)
    assert answer.status_code == 401
    assert answer.json()["code"] == "AuthenticationFailed"
    # A download URL does not upload, and an upload URL does not download.
    assert put_bytes(url, b"x", "text/plain").status_code == 401
    assert requests.get(created["putUrl"], timeout=30).status_code == 401
