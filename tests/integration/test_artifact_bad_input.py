"""Bad artifact input gets a clear 4xx (507 for a full disk) and leaves nothing behind: no
artifact visible, no file in the blob directory, no blob row awaiting deletion."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import taskcluster
import taskcluster.upload
from taskcluster.exceptions import TaskclusterRestFailure

from queue_server.keys import STORE
from tests.conftest import RunningQueue

from .artifact_helpers import Run, blob_files, claimed_run, expires_in, put_bytes

MAX_BYTES = 256 * 1024


@pytest.fixture
def queue_overrides() -> dict[str, object]:
    return {"max_artifact_bytes": MAX_BYTES}


@pytest.fixture
def run(queue: RunningQueue) -> Run:
    return claimed_run(queue)


def nothing_left(queue: RunningQueue, run: Run, name: str) -> None:
    """The artifact is not visible and not a byte of it is stored or awaited."""
    with pytest.raises(TaskclusterRestFailure) as raised:
        run.anonymous.getArtifact(run.task_id, 0, name)
    assert raised.value.status_code == 404
    assert run.root.listArtifacts(run.task_id, 0)["artifacts"] == []
    assert blob_files(queue) == []
    far = int(time.time() * 1000) + 10 * 86_400_000
    assert queue.call(queue.runner.app[STORE].due_blobs(far, 100)) == []


@pytest.mark.parametrize(
    "name",
    [
        "public/../private/secret",
        "public/..",
        "/etc/passwd",
        "public/a\nb",
        "public/tab\there",
        "public/\x7f",
        "public/" + "x" * 1018,  # 1025 characters
        "public/\u00e9t\u00e9",
    ],
    ids=["dotdot", "trailing-dotdot", "absolute", "newline", "tab", "del", "too-long", "non-ascii"],
)
def test_bad_names_are_400_and_create_nothing(queue: RunningQueue, run: Run, name: str) -> None:
    with pytest.raises(TaskclusterRestFailure) as raised:
        run.create(name, storageType="reference", url="https://example.com/", contentType="a/b")
    assert raised.value.status_code == 400
    assert raised.value.body["code"] == "InvalidRequestArguments"
    assert run.root.listArtifacts(run.task_id, 0)["artifacts"] == []


@pytest.mark.parametrize(
    "path", ["public/../x", "public/%2E%2E/x", "..", "a/./../b", "x%00y", "x%0Ay"]
)
def test_raw_paths_with_dot_segments_or_controls_are_400(
    queue: RunningQueue, run: Run, path: str
) -> None:
    """What a client that does not encode the name sends (curl --path-as-is, say)."""
    body = b'{"storageType":"reference","url":"https://x/","expires":"%s"}' % (
        expires_in("1 day").encode()
    )
    url = requests.utils.urlparse(queue.root_url)
    target = f"/api/queue/v1/task/{run.task_id}/runs/0/artifacts/{path}"
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert b" 400 " in status_line, answer[:300]
    assert b"InvalidRequestArguments" in answer
    assert run.root.listArtifacts(run.task_id, 0)["artifacts"] == []


def test_a_name_of_1024_characters_is_fine(run: Run) -> None:
    name = "public/" + "x" * 1017
    run.create(name, storageType="reference", url="https://example.com/", contentType="a/b")
    assert run.anonymous.artifactInfo(run.task_id, 0, name)["name"] == name


def test_a_put_with_another_content_type_is_400(queue: RunningQueue, run: Run) -> None:
    created = run.create("public/t", storageType="s3", contentType="text/plain")
    response = put_bytes(created["putUrl"], b"data", "application/json")
    assert response.status_code == 400
    assert "Content-Type must be 'text/plain'" in response.json()["message"]
    nothing_left(queue, run, "public/t")


def test_a_put_whose_length_header_differs_from_the_declared_is_400(
    queue: RunningQueue, run: Run
) -> None:
    created = run.create("public/l", storageType="s3", contentType="a/b", contentLength=10)
    response = put_bytes(created["putUrl"], b"12345", "a/b")
    assert response.status_code == 400
    assert "Content-Length must be 10" in response.json()["message"]
    nothing_left(queue, run, "public/l")


def chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts  # a generator body is sent chunked, with no Content-Length


@pytest.mark.parametrize(
    ("parts", "why"),
    [
        ((b"12345", b"67890", b"12345"), "longer than the 10 bytes declared"),
        ((b"12345",), "has 5 bytes; 10 were declared"),
    ],
)
def test_a_chunked_body_of_another_length_is_400(
    queue: RunningQueue, run: Run, parts: tuple[bytes, ...], why: str
) -> None:
    created = run.create("public/c", storageType="s3", contentType="a/b", contentLength=10)
    response = requests.put(
        created["putUrl"], data=chunks(*parts), headers={"Content-Type": "a/b"}, timeout=30
    )
    assert response.status_code == 400
    assert why in response.json()["message"]
    nothing_left(queue, run, "public/c")


def test_more_than_the_maximum_is_413(queue: RunningQueue, run: Run) -> None:
    with pytest.raises(TaskclusterRestFailure) as raised:
        run.create("public/big", storageType="s3", contentType="a/b", contentLength=MAX_BYTES + 1)
    assert raised.value.status_code == 413
    created = run.create("public/big", storageType="s3", contentType="a/b")  # length unsaid
    body = chunks(*[b"x" * 65536] * 5)  # 320 KiB, chunked
    response = requests.put(
        created["putUrl"], data=body, headers={"Content-Type": "a/b"}, timeout=30
    )
    assert response.status_code == 413
    assert response.json()["code"] == "InputTooLarge"
    nothing_left(queue, run, "public/big")
    sized = put_bytes(created["putUrl"], b"x" * (MAX_BYTES + 1), "a/b")
    assert sized.status_code == 413
    nothing_left(queue, run, "public/big")


def test_a_client_that_goes_away_mid_upload_leaves_no_file(queue: RunningQueue, run: Run) -> None:
    created = run.create("public/cut", storageType="s3", contentType="a/b", contentLength=MAX_BYTES)
    url = requests.utils.urlparse(created["putUrl"])
    with socket.create_connection((url.hostname, url.port)) as sock:
        head = (
            f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Content-Type: a/b\r\nContent-Length: {MAX_BYTES}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"x" * (MAX_BYTES // 2))
        deadline = time.monotonic() + 15  # the server has started writing the blob
        while not blob_files(queue) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert blob_files(queue), "the upload never reached the blob store"
    deadline = time.monotonic() + 15  # the server notices, and removes the partial file
    while blob_files(queue) and time.monotonic() < deadline:
        time.sleep(0.01)
    nothing_left(queue, run, "public/cut")


def test_a_put_url_for_an_unknown_or_replaced_upload_is_404(queue: RunningQueue, run: Run) -> None:
    created = run.create("public/u", storageType="s3", contentType="a/b")
    tampered = created["putUrl"].replace("uploadId=", "uploadId=x")
    assert put_bytes(tampered, b"1", "a/b").status_code == 401  # the signature covers it
    root = taskcluster.Queue(queue.root_options())
    assert root.listArtifacts(run.task_id, 0)["artifacts"] == []


# -- a full disk ---------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: writing more fails with ENOSPC, as on a full disk."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


class TestFullDisk:
    @pytest.fixture
    def queue_overrides(self, small_disk: Path) -> dict[str, object]:
        return {"blob_dir": small_disk / "blobs"}

    def test_a_disk_that_fills_up_is_507_and_keeps_nothing(self, queue: RunningQueue) -> None:
        run = claimed_run(queue)
        created = run.create("public/huge", storageType="s3", contentType="a/b")
        response = put_bytes(created["putUrl"], b"x" * (3 * 1024 * 1024), "a/b")
        assert response.status_code == 507
        assert response.json()["code"] == "InsufficientStorage"
        nothing_left(queue, run, "public/huge")
        # The space is back: a small upload fits.
        assert put_bytes(created["putUrl"], b"small", "a/b").status_code == 200
        got = run.anonymous.getArtifact(run.task_id, 0, "public/huge")
        assert requests.get(got["url"], timeout=30).content == b"small"

    def test_inline_bytes_that_do_not_fit_are_507(self, queue: RunningQueue) -> None:
        fill = queue.settings.blob_path / "filler"
        fill.parent.mkdir(parents=True, exist_ok=True)
        with pytest.raises(OSError, match="No space left"):
            fill.write_bytes(b"x" * (2 * 1024 * 1024))
        objects = taskcluster.Object(queue.root_options())
        with pytest.raises(TaskclusterRestFailure) as raised:
            taskcluster.upload.uploadFromBuf(
                projectId="p",
                name="inline/object",
                contentType="a/b",
                contentLength=8000,
                expires=expires_in("1 hour"),
                objectService=objects,
                data=b"y" * 8000,
            )
        assert raised.value.status_code == 507
        fill.unlink()
        assert blob_files(queue) == []
