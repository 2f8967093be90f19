"""The worker's pure core: result mapping, reclaim timing, backoff, payload decoding, cache
volume names, artifact expiry, resource summaries, limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.backoff import MAX_BACKOFF_S, backoff_s
from worker.engines.base import Usage
from worker.errors import MalformedPayload
from worker.features.artifacts import artifact_expiry, content_type_of
from worker.features.caches import CachePool, volume_name
from worker.features.resources import Sample, summary
from worker.host import HostFacts, limits_for
from worker.payload import decode_job, required_scopes
from worker.reclaim import reclaim_delay_s
from worker.results import RESOLUTIONS, Abort, Ending, ending_of, unreported
from worker.settings import Settings


@pytest.mark.parametrize(
    ("exit_code", "abort", "missing", "ending"),
    [
        (0, None, False, Ending.succeeded),
        (3, None, False, Ending.exited_non_zero),
        (5, None, False, Ending.exited_for_retry),
        (0, None, True, Ending.artifact_missing),
        (3, None, True, Ending.exited_non_zero),
        (137, Abort.max_run_time, False, Ending.max_run_time),
        (137, Abort.canceled, False, Ending.canceled),
        (0, Abort.worker_shutdown, True, Ending.worker_shutdown),
        (None, None, False, Ending.internal_error),
    ],
)
def test_endings_follow_generic_worker(
    exit_code: int | None, abort: Abort | None, missing: bool, ending: Ending
) -> None:
    assert ending_of(exit_code, abort, {5}, missing) == ending


def test_every_ending_has_a_resolution_and_only_a_cancel_reports_nothing() -> None:
    assert set(RESOLUTIONS) == set(Ending)
    silent = [ending for ending, resolution in RESOLUTIONS.items() if resolution.report is None]
    assert silent == [Ending.canceled]
    assert RESOLUTIONS[Ending.max_run_time].report == "failed"
    assert RESOLUTIONS[Ending.exited_for_retry].reason == "intermittent-task"
    assert RESOLUTIONS[Ending.worker_shutdown].reason == "worker-shutdown"


def test_a_run_given_up_while_stopping_names_what_was_not_reported_and_the_claim_expiry() -> None:
    until = "2030-01-01T00:00:00.000Z"
    shutdown = unreported(RESOLUTIONS[Ending.worker_shutdown], until)
    assert shutdown.startswith("exception/worker-shutdown not reported")
    assert f"exception/claim-expired when the claim lapses ({until})" in shutdown
    assert unreported(None, until).startswith("its resolution not reported")
    assert "nothing to report" in unreported(RESOLUTIONS[Ending.canceled], until)


@pytest.mark.parametrize(
    ("remaining", "delay"),
    [(1200.0, 1020.0), (361.0, 181.0), (100.0, 50.0), (0.0, 0.0), (-5.0, 0.0)],
)
def test_reclaims_come_well_before_taken_until(remaining: float, delay: float) -> None:
    assert reclaim_delay_s(1000.0, 1000.0 + remaining) == pytest.approx(delay)


def test_claim_backoff_grows_with_jitter_and_is_capped() -> None:
    assert backoff_s(1, 0.0) == pytest.approx(0.5)
    assert backoff_s(1, 0.999) == pytest.approx(1.499)
    assert backoff_s(3, 0.5) == pytest.approx(4.0)
    assert backoff_s(50, 0.999) <= MAX_BACKOFF_S * 1.5


def test_a_docker_payload_becomes_a_job() -> None:
    job = decode_job(
        "docker",
        {
            "image": {"type": "docker-image", "name": "busybox:1"},
            "command": ["sh", "-c", "true"],
            "env": {"A": "1"},
            "maxRunTime": 30,
            "artifacts": {"public/x": {"type": "file", "path": "/x"}},
            "cache": {"gecko": "/cache"},
            "features": {"dockerSave": True},
            "onExitStatus": {"retry": [5], "purgeCaches": [7]},
        },
        max_run_time_s=3600,
    )
    assert (job.image, job.commands, job.env) == ("busybox:1", (("sh", "-c", "true"),), {"A": "1"})
    assert (job.retry_codes, job.purge_codes, job.docker_save) == ({5}, {7}, True)
    assert [a.name for a in job.artifacts] == ["public/x"]
    assert required_scopes(job) == ["docker-worker:cache:gecko"]


def test_a_process_payload_becomes_a_job_with_artifact_names_from_paths() -> None:
    job = decode_job(
        "process",
        {
            "command": [["make"], ["make", "test"]],
            "maxRunTime": 30,
            "artifacts": [
                {"type": "directory", "path": "./dist/"},
                {"type": "file", "path": "a", "name": "public/a"},
            ],
        },
        max_run_time_s=3600,
    )
    assert job.commands == (("make",), ("make", "test"))
    assert [(a.name, a.path) for a in job.artifacts] == [("dist", "dist"), ("public/a", "a")]


@pytest.mark.parametrize(
    ("engine", "payload", "message"),
    [
        ("docker", {"image": "x"}, "missing required field `maxRunTime`"),
        ("docker", {"image": "x", "maxRunTime": 0}, "at `$.maxRunTime`"),
        ("docker", {"image": "x", "maxRunTime": 5, "comand": []}, "unknown field `comand`"),
        ("docker", {"image": "x", "maxRunTime": 5, "env": {"A": 1}}, "at `$.env[...]`"),
        (
            "docker",
            {"image": "x", "maxRunTime": 5, "features": {"keepAliveOnFailure": 30}},
            "features.keepAliveOnFailure needs features.interactive",
        ),
        (
            "docker",
            {"image": "x", "maxRunTime": 5, "artifacts": {"a": {"type": "file", "path": "rel"}}},
            "must be absolute",
        ),
        (
            "docker",
            {"image": {"type": "task-image", "taskId": "t", "path": "p"}, "maxRunTime": 5},
            "only image names",
        ),
        ("docker", {"image": "x", "maxRunTime": 7200}, "more than this worker allows (3600 s)"),
        ("docker", [], "Expected `object`, got `array`"),
        ("process", {"command": [], "maxRunTime": 5}, "at `$.command`"),
        (
            "process",
            {"command": [["a"]], "maxRunTime": 5, "artifacts": [{"type": "file", "path": "../x"}]},
            "stay inside it",
        ),
        (
            "process",
            {
                "command": [["a"]],
                "maxRunTime": 5,
                "artifacts": [{"type": "file", "path": "/etc/x"}],
            },
            "stay inside it",
        ),
        ("process", {"command": [["a"]], "maxRunTime": 5, "mounts": []}, "unknown field `mounts`"),
    ],
)
def test_invalid_payloads_are_malformed_with_the_reason(
    engine: str, payload: object, message: str
) -> None:
    with pytest.raises(MalformedPayload) as raised:
        decode_job(engine, payload, max_run_time_s=3600)  # type: ignore[arg-type]
    assert message in str(raised.value)
    assert str(raised.value).startswith("the payload is invalid: ")


def test_cache_volumes_have_safe_distinct_names_and_one_instance_per_user() -> None:
    assert volume_name("p", "gecko-1.checkouts", 0) == "p-gecko-1.checkouts-0"
    odd = volume_name("p", "level-3/checkouts", 0)
    assert odd.startswith("p-level-3_checkouts-") and odd.endswith("-0")
    assert odd != volume_name("p", "level-3:checkouts", 0)
    pool = CachePool("p")
    first, second = pool.acquire("c"), pool.acquire("c")
    assert (first, second) == ("p-c-0", "p-c-1")
    pool.release(first)
    assert pool.acquire("c") == "p-c-0"


def test_artifacts_expire_as_asked_but_never_after_the_task() -> None:
    task = "2030-01-01T00:00:00.000Z"
    assert artifact_expiry(None, task) == task
    assert artifact_expiry("2029-01-01T00:00:00.000Z", task) == "2029-01-01T00:00:00.000Z"
    assert artifact_expiry("2031-01-01T00:00:00.000Z", task) == task
    assert artifact_expiry("not a time", task) == task
    assert content_type_of("public/build.log") == "text/plain; charset=utf-8"
    assert content_type_of("public/a.json") == "application/json"
    assert content_type_of("public/blob") == "application/octet-stream"
    assert content_type_of("public/blob", "text/csv") == "text/csv"


def test_resource_summary_takes_the_peaks() -> None:
    samples = [
        Sample(0.0, Usage(0.1, 100)),
        Sample(1.0, Usage(0.9, 300, 400)),
        Sample(2.0, Usage(1.5, 200)),
    ]
    document = summary(samples, 1.0)
    assert (document["cpuSeconds"], document["peakMemoryBytes"]) == (1.5, 400)
    assert [s["memoryBytes"] for s in document["samples"]] == [100, 300, 200]
    assert summary([], 1.0)["peakMemoryBytes"] == 0


def test_limits_default_to_a_share_of_the_host() -> None:
    facts = HostFacts("h", "x86_64", "Linux", 8, 16 * 2**30, 100, 50)
    base = Settings(root_url="http://q", task_queue_id="p/t", capacity=4, work_dir=Path("w"))
    shared = limits_for(base, facts)
    assert (shared.memory_bytes, shared.cpus) == (4 * 2**30, 2.0)
    fixed = Settings(root_url="http://q", task_queue_id="p/t", memory_limit_mb=512, cpu_limit=0.5)
    assert (limits_for(fixed, facts).memory_bytes, limits_for(fixed, facts).cpus) == (
        512 * 2**20,
        0.5,
    )
