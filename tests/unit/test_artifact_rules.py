"""Artifact and object rules, pure: names, the creation window, immutability, uploads and
signed blob URLs. No loop, no database."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

import msgspec
import pytest

from clients.protocol import artifacts as a
from clients.protocol import objects as o
from clients.protocol.errors import ApiError, ErrorCode
from clients.protocol.events import Exchange
from clients.protocol.states import ReasonResolved, RunState
from clients.protocol.tasks import CreateTaskRequest
from clients.protocol.times import format_ms, parse_time
from queue_server.core import artifacts as rules
from queue_server.core import lifecycle
from queue_server.core.artifacts import ArtifactRow
from queue_server.core.blob_urls import BlobUrlSigner
from queue_server.core.lifecycle import TaskRecord
from queue_server.core.objects import (
    ObjectRow,
    StoredBlob,
    check_finish,
    check_put,
    check_renewal,
    choose_download,
    download_hashes,
)
from queue_server.core.taskdef import normalize_task

NOW = 1_700_000_000_000
MINUTE = 60_000
TASK_ID = "fN1gGK8HRbWZBZJPOY2V4Q"
SHA = "a" * 64


def task_record() -> TaskRecord:
    body = {
        "taskQueueId": "p/w",
        "created": "2023-11-14T22:13:20.000Z",
        "deadline": "2023-11-14T23:13:20.000Z",
        "expires": "2023-11-15T22:13:20.000Z",
        "payload": {},
        "metadata": {"name": "n", "description": "d", "owner": "o", "source": "https://x"},
    }
    request = msgspec.json.decode(msgspec.json.encode(body), type=CreateTaskRequest)
    task, times = normalize_task(TASK_ID, request, now_ms=NOW, max_deadline_ms=5 * 86_400_000)
    return TaskRecord(TASK_ID, task, [], task.retries, times.deadline)


def running() -> TaskRecord:
    record = task_record()
    lifecycle.schedule(record, NOW)
    lifecycle.claim(record, "g", "w", NOW, NOW + 20 * MINUTE)
    return record


def request(**body: object) -> a.CreateArtifactRequest:
    decoded: a.CreateArtifactRequest = msgspec.json.decode(
        msgspec.json.encode({"expires": "2023-11-15T00:00:00.000Z", **body}),
        type=a.CreateArtifactRequest,
    )
    return decoded


def row(name: str = "public/x", **body: object) -> ArtifactRow:
    return rules.artifact_row(TASK_ID, 0, name, request(**body), NOW)


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["public/build/target.tar.gz", "a", "private/logs/live.log", "x..y", "a/b..", "a b/c%d"],
)
def test_good_names_are_accepted(name: str) -> None:
    assert rules.name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/etc/passwd", "start with `/`"),
        ("..", "`..` segment"),
        ("public/../private/x", "`..` segment"),
        ("public/..", "`..` segment"),
        ("../x", "`..` segment"),
        ("x" * 1025, "1024"),
    ],
)
def test_bad_names_are_refused_with_a_reason(name: str, why: str) -> None:
    problem = rules.name_problem(name)
    assert problem is not None and why in problem


def test_a_bad_name_makes_no_artifact_row() -> None:
    with pytest.raises(ApiError) as raised:
        row("public/../x", storageType="reference", url="https://example.com/")
    assert raised.value.code is ErrorCode.invalid_request_arguments


def test_a_link_to_a_bad_name_is_refused() -> None:
    with pytest.raises(ApiError) as raised:
        row("public/x", storageType="link", artifact="/abs")
    assert raised.value.details["path"] == "$.artifact"


def test_object_names_round_trip_to_their_artifact() -> None:
    name = rules.object_name(TASK_ID, 3, "public/a/b c")
    assert name == f"t/{TASK_ID}/3/public/a/b c"
    assert rules.artifact_of_object_name(name) == (TASK_ID, 3, "public/a/b c")
    assert rules.artifact_of_object_name("some/other/object") is None


# -- requests into rows ----------------------------------------------------------------------


def test_each_storage_type_becomes_its_row() -> None:
    s3 = row(storageType="s3", contentType="text/plain", contentLength=3)
    assert (s3.storage_type, s3.present, s3.content_length) == ("s3", False, 3)
    obj = row(storageType="object", contentType="text/plain")
    assert (obj.storage_type, obj.present, obj.content_length) == ("object", False, None)
    ref = row(storageType="reference", url="https://example.com/a")
    assert (ref.present, ref.details, ref.content_type) == (
        True,
        {"url": "https://example.com/a"},
        a.DEFAULT_CONTENT_TYPE,
    )
    link = row(storageType="link", artifact="public/y")
    assert link.details == {"artifact": "public/y"}
    error = row(storageType="error", reason="file-missing-on-worker", message="gone")
    assert error.details == {"reason": "file-missing-on-worker", "message": "gone"}


def test_an_unknown_storage_type_is_a_validation_error() -> None:
    with pytest.raises(msgspec.ValidationError, match="storageType"):
        request(storageType="azure", contentType="x")


def test_error_reasons_are_taskclusters() -> None:
    assert set(a.ERROR_REASONS) == {
        "file-missing-on-worker",
        "invalid-resource-on-worker",
        "too-large-file-on-worker",
        "file-not-readable-on-worker",
    }
    with pytest.raises(msgspec.ValidationError, match="reason"):
        request(storageType="error", reason="bored", message="m")


def test_expires_may_lag_15_minutes_and_no_more() -> None:
    late = format_ms(NOW - 14 * MINUTE)
    assert row(storageType="reference", url="https://x/", expires=late).expires_ms < NOW
    with pytest.raises(ApiError, match="past"):
        row(storageType="reference", url="https://x/", expires=format_ms(NOW - 16 * MINUTE))


# -- when artifacts may be created -------------------------------------------------------------


def test_a_running_run_accepts_artifacts() -> None:
    record = running()
    assert rules.check_creatable(record, row(storageType="s3", contentType="x"), NOW).run_id == 0


def test_a_run_no_worker_claimed_has_none() -> None:
    record = task_record()
    lifecycle.schedule(record, NOW)
    with pytest.raises(ApiError) as raised:
        rules.check_creatable(record, row(storageType="s3", contentType="x"), NOW)
    assert raised.value.code is ErrorCode.input_error


def test_an_unknown_run_is_an_input_error() -> None:
    artifact = replace(row(storageType="s3", contentType="x"), run_id=5)
    with pytest.raises(ApiError) as raised:
        rules.check_creatable(running(), artifact, NOW)
    assert raised.value.code is ErrorCode.input_error


def test_an_artifact_may_not_outlive_its_task() -> None:
    artifact = row(storageType="s3", contentType="x", expires="2024-01-01T00:00:00.000Z")
    with pytest.raises(ApiError, match="after its task"):
        rules.check_creatable(running(), artifact, NOW)


@pytest.mark.parametrize("state", [RunState.completed, RunState.failed])
def test_completed_and_failed_runs_take_no_more_artifacts(state: RunState) -> None:
    record = running()
    lifecycle.resolve(record, 0, state, ReasonResolved(state.value), NOW)
    with pytest.raises(ApiError) as raised:
        rules.check_creatable(record, row(storageType="s3", contentType="x"), NOW + 1)
    assert raised.value.code is ErrorCode.request_conflict


def test_exception_leaves_25_minutes_for_artifacts() -> None:
    record = running()
    lifecycle.resolve(record, 0, RunState.exception, ReasonResolved.internal_error, NOW)
    artifact = row(storageType="s3", contentType="x")
    rules.check_creatable(record, artifact, NOW + 25 * MINUTE - 1)
    with pytest.raises(ApiError) as raised:
        rules.check_creatable(record, artifact, NOW + 25 * MINUTE)
    assert raised.value.code is ErrorCode.request_conflict


# -- immutability ------------------------------------------------------------------------------


REFERENCE = {"storageType": "reference", "url": "https://example.com/a", "contentType": "text/x"}
LATER = "2023-11-15T06:00:00.000Z"
EARLIER = "2023-11-14T23:30:00.000Z"


@pytest.mark.parametrize(
    ("first", "second", "allowed"),
    [
        (
            {"storageType": "s3", "contentType": "x"},
            {"storageType": "s3", "contentType": "x"},
            True,
        ),
        (
            {"storageType": "s3", "contentType": "x"},
            {"storageType": "s3", "contentType": "y"},
            False,
        ),
        (
            {"storageType": "s3", "contentType": "x", "contentLength": 1},
            {"storageType": "s3", "contentType": "x", "contentLength": 2},
            False,
        ),
        (
            {"storageType": "s3", "contentType": "x"},
            {"storageType": "object", "contentType": "x"},
            False,
        ),
        (
            {"storageType": "s3", "contentType": "x"},
            {"storageType": "s3", "contentType": "x", "expires": LATER},
            True,
        ),
        (
            {"storageType": "s3", "contentType": "x"},
            {"storageType": "s3", "contentType": "x", "expires": EARLIER},
            False,
        ),
        (REFERENCE, {**REFERENCE, "url": "https://example.com/b"}, True),
        (REFERENCE, {"storageType": "link", "artifact": "public/y"}, True),
        ({"storageType": "link", "artifact": "public/y"}, REFERENCE, False),
        (
            {"storageType": "link", "artifact": "public/y"},
            {"storageType": "link", "artifact": "public/z"},
            False,
        ),
        (
            {"storageType": "error", "reason": "file-missing-on-worker", "message": "a"},
            {"storageType": "error", "reason": "file-missing-on-worker", "message": "b"},
            False,
        ),
        (
            {"storageType": "error", "reason": "file-missing-on-worker", "message": "a"},
            {"storageType": "error", "reason": "file-missing-on-worker", "message": "a"},
            True,
        ),
        (REFERENCE, {"storageType": "s3", "contentType": "text/x"}, False),
        (REFERENCE, {**REFERENCE, "contentType": "text/y"}, False),
    ],
)
def test_what_a_repeated_create_may_change(
    first: dict[str, object], second: dict[str, object], allowed: bool
) -> None:
    assert rules.compatible(row(**first), row(**second)) is allowed


def test_a_link_replacing_a_reference_keeps_its_content_type() -> None:
    original = row(**REFERENCE)
    after = rules.updated(original, row(storageType="link", artifact="public/y", expires=LATER))
    assert (after.storage_type, after.content_type, after.details) == (
        "link",
        "text/x",
        {"artifact": "public/y"},
    )
    assert after.expires_ms == parse_time(LATER)


def test_an_object_artifact_keeps_its_upload_id_when_repeated() -> None:
    original = replace(row(storageType="object", contentType="x"), details={"uploadId": "u"})
    again = row(storageType="object", contentType="x", expires=LATER)
    assert rules.compatible(original, again)
    assert rules.updated(original, again).details == {"uploadId": "u"}


def test_artifact_created_routes_like_the_run() -> None:
    record = running()
    artifact = row(storageType="reference", url="https://x/")
    message = rules.created_message(record, record.runs[0], artifact)
    assert message.exchange is Exchange.artifact_created
    assert message.routing_key.split(".")[1:5] == [TASK_ID, "0", "g", "w"]
    assert message.body.artifact.name == "public/x"  # type: ignore[union-attr]


# -- objects --------------------------------------------------------------------------------------


def open_object(**changes: object) -> ObjectRow:
    base = ObjectRow("obj", "proj", "upload-1", NOW + 1000, NOW + 10 * MINUTE, "text/plain", 3)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_renewal_must_be_the_same_upload() -> None:
    existing = open_object()
    check_renewal(existing, "proj", "upload-1", existing.expires_ms)
    for project, upload, expires in [
        ("other", "upload-1", existing.expires_ms),
        ("proj", "upload-2", existing.expires_ms),
        ("proj", "upload-1", existing.expires_ms + 1),
    ]:
        with pytest.raises(ApiError) as raised:
            check_renewal(existing, project, upload, expires)
        assert raised.value.code is ErrorCode.request_conflict
    with pytest.raises(ApiError, match="already exists"):
        check_renewal(replace(existing, upload_id=None), "proj", "upload-1", existing.expires_ms)


def test_finishing_checks_the_sha256_the_server_computed() -> None:
    blob = StoredBlob("k" * 32, 3, SHA)
    with pytest.raises(ApiError, match="no data"):
        check_finish(open_object(), "proj", "upload-1", {})
    uploaded = open_object(blob=blob)
    with pytest.raises(ApiError, match="not that of the uploaded data"):
        check_finish(uploaded, "proj", "upload-1", {"sha256": "b" * 64})
    assert check_finish(uploaded, "proj", "upload-1", {"sha256": SHA, "sha512": "c" * 128}) == {
        "sha256": SHA,
        "sha512": "c" * 128,
    }
    finished = replace(uploaded, upload_id=None, hashes={"sha512": "c" * 128})
    assert check_finish(finished, "proj", "whatever", {"sha256": SHA}) is None
    with pytest.raises(ApiError) as raised:
        check_finish(finished, "proj", "upload-1", {"sha512": "d" * 128})
    assert raised.value.code is ErrorCode.request_conflict
    assert download_hashes(finished) == {"sha256": SHA, "sha512": "c" * 128}


@pytest.mark.parametrize(
    ("content_type", "length", "max_bytes", "code"),
    [
        ("text/plain", 3, 10, None),
        ("text/plain", None, 10, None),
        ("application/json", 3, 10, ErrorCode.input_error),
        ("text/plain", 4, 10, ErrorCode.input_error),
        ("text/plain", 3, 2, ErrorCode.input_too_large),
    ],
)
def test_a_put_must_match_what_was_declared(
    content_type: str, length: int | None, max_bytes: int, code: ErrorCode | None
) -> None:
    if code is None:
        check_put(open_object(), "upload-1", content_type, length, max_bytes)
        return
    with pytest.raises(ApiError) as raised:
        check_put(open_object(), "upload-1", content_type, length, max_bytes)
    assert raised.value.code is code


def test_a_put_for_a_replaced_upload_is_not_found() -> None:
    with pytest.raises(ApiError) as raised:
        check_put(open_object(), "upload-0", "text/plain", 3, 10)
    assert raised.value.code is ErrorCode.resource_not_found


def test_download_methods_prefer_simple_and_refuse_none() -> None:
    both = o.AcceptDownloadMethods(simple=True, get_url=True)
    assert choose_download(both) == "simple"
    assert choose_download(o.AcceptDownloadMethods(get_url=True)) == "getUrl"
    with pytest.raises(ApiError) as raised:
        choose_download(o.AcceptDownloadMethods())
    assert raised.value.code is ErrorCode.no_matching_method


# -- signed blob URLs --------------------------------------------------------------------------------


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_a_signed_url_verifies_until_it_expires() -> None:
    signer = BlobUrlSigner(b"k" * 32)
    url = signer.url("http://q", "GET", "t/x/0/public/a b", NOW + 1000)
    assert url.startswith("http://q/api/queue/v1/blobs/t%2Fx%2F0%2Fpublic%2Fa%20b?")
    query = query_of(url)
    assert signer.verify("GET", "t/x/0/public/a b", query, NOW).expires_ms == NOW + 1000
    with pytest.raises(ApiError, match="expired"):
        signer.verify("GET", "t/x/0/public/a b", query, NOW + 1000)


@pytest.mark.parametrize(
    ("method", "name", "change"),
    [
        ("PUT", "obj", {}),  # a GET URL used for a PUT
        ("GET", "other", {}),
        ("GET", "obj", {"expires": str(NOW + 99_999)}),
        ("GET", "obj", {"signature": "x"}),
        ("GET", "obj", {"signature": ""}),
    ],
)
def test_a_tampered_url_is_refused(method: str, name: str, change: dict[str, str]) -> None:
    signer = BlobUrlSigner(b"k" * 32)
    query = {**query_of(signer.url("http://q", "GET", "obj", NOW + 1000)), **change}
    with pytest.raises(ApiError) as raised:
        signer.verify(method, name, query, NOW)
    assert raised.value.code is ErrorCode.authentication_failed


def test_a_put_url_is_bound_to_its_upload_and_to_the_server_key() -> None:
    signer = BlobUrlSigner(b"k" * 32)
    query = query_of(signer.url("http://q", "PUT", "obj", NOW + 1000, "upload-1"))
    assert signer.verify("PUT", "obj", query, NOW).upload_id == "upload-1"
    with pytest.raises(ApiError):
        signer.verify("PUT", "obj", {**query, "uploadId": "upload-2"}, NOW)
    with pytest.raises(ApiError):
        BlobUrlSigner(b"j" * 32).verify("PUT", "obj", query, NOW)
