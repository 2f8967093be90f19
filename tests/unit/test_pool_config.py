"""Pool configs, launch configs, worker configs, pools files and the worker's side of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients import hawk
from clients.protocol.errors import ApiError
from clients.protocol.pool_config import (
    DockerPoolConfig,
    PoolFileError,
    ProcessLaunchConfig,
    ProcessPoolConfig,
    StaticPoolConfig,
    parse_pools_file,
)
from clients.protocol.scopes import ScopeSet, satisfies
from clients.protocol.worker_manager import PROVISIONER_CLIENT_SCOPES
from provisioner.core.credentials import mint_worker_credentials
from provisioner.core.pools import decode_config, launchables, worker_config, worker_scopes
from provisioner.core.workers import TRANSITIONS, sources_of
from worker.registration import reregister_at_s
from worker.settings import Settings, SettingsError, with_worker_config


def test_a_cloud_config_gets_taskclusters_defaults_and_one_launch_config() -> None:
    config = decode_config("process", {"minCapacity": 0, "maxCapacity": 4})
    assert isinstance(config, ProcessPoolConfig)
    assert (config.scaling_ratio, config.lifecycle.reregistration_timeout) == (1.0, 345_600)
    assert config.lifecycle.queue_inactivity_timeout == 7200
    [only] = launchables("p/w", config)
    assert (only.capacity_per_instance, only.initial_weight, only.max_capacity) == (1, 1.0, None)
    assert isinstance(
        decode_config("docker", {"minCapacity": 0, "maxCapacity": 1}), DockerPoolConfig
    )
    assert isinstance(decode_config("static", {}), StaticPoolConfig)


def test_launch_config_ids_are_taskclusters_md5_and_ignore_the_worker_manager_section() -> None:
    def ids(pool: str, capacity: int, command: list[str]) -> str:
        launch = {"workerManager": {"capacityPerInstance": capacity}, "command": command}
        config = decode_config(
            "process", {"minCapacity": 0, "maxCapacity": 4, "launchConfigs": [launch]}
        )
        return launchables(pool, config)[0].launch_config_id

    first = ids("p/w", 1, ["a"])
    assert first.startswith("lc-") and len(first) == 23
    assert ids("p/w", 2, ["a"]) == first  # workerManager changes keep the id
    assert ids("p/w", 1, ["b"]) != first
    assert ids("p/other", 1, ["a"]) != first
    named = {"workerManager": {"launchConfigId": "mine"}}
    config = decode_config(
        "process", {"minCapacity": 0, "maxCapacity": 1, "launchConfigs": [named]}
    )
    assert launchables("p/w", config)[0].launch_config_id == "mine"


def test_two_launch_configs_with_one_id_are_refused() -> None:
    twice = [{"workerManager": {"launchConfigId": "x"}}, {"workerManager": {"launchConfigId": "x"}}]
    with pytest.raises(ApiError, match="same launchConfigId"):
        decode_config("process", {"minCapacity": 0, "maxCapacity": 1, "launchConfigs": twice})


def test_launched_workers_get_the_launch_configs_worker_config_over_the_defaults() -> None:
    launch = {
        "workerManager": {"capacityPerInstance": 3},
        "workerConfig": {"idleTimeout": 5, "capacity": 9},
    }
    config = decode_config(
        "process", {"minCapacity": 0, "maxCapacity": 6, "launchConfigs": [launch]}
    )
    [item] = launchables("p/w", config)
    assert worker_config(config, item, 3) == {"engine": "process", "idleTimeout": 5, "capacity": 3}
    engine = decode_config(
        "process",
        {
            "minCapacity": 0,
            "maxCapacity": 1,
            "launchConfigs": [{"workerConfig": {"engine": "docker"}}],
        },
    )
    assert worker_config(engine, launchables("p/w", engine)[0], 1)["engine"] == "docker"
    static = decode_config("static", {"workerConfig": {"capacity": 2}})
    assert worker_config(static, None, 1) == {"capacity": 2}


def test_the_provisioners_client_holds_every_scope_it_hands_a_worker() -> None:
    held = ScopeSet(list(PROVISIONER_CLIENT_SCOPES))
    for scope in worker_scopes("prov/wt", "group", "id-1"):
        assert satisfies(held, scope), scope


def test_worker_credentials_are_named_and_signed_by_the_provisioner() -> None:
    issuer = hawk.Credentials("infrax/provisioner", "issuer-token")
    made = mint_worker_credentials(
        issuer, "process", ("prov/wt", "g", "w"), 1_000_000_000, 1_000_600_000
    )
    assert made.client_id == "worker/process/prov/wt/g/w"
    cert = hawk.parse_certificate(json.loads(str(made.certificate)))
    assert (cert.issuer, cert.start, cert.expiry) == (
        "infrax/provisioner",
        1_000_000_000 - 900_000,
        1_000_600_000,
    )
    assert "queue:claim-work:prov/wt" in cert.scopes


def test_worker_states_move_only_forward() -> None:
    assert set(sources_of("running")) == {"requested"}  # type: ignore[arg-type]
    assert set(sources_of("stopped")) == {"requested", "running", "stopping"}  # type: ignore[arg-type]
    assert all(not TRANSITIONS[state] or state not in TRANSITIONS[state] for state in TRANSITIONS)


def test_pools_files_are_yaml_with_friendly_defaults() -> None:
    pools = parse_pools_file(
        "p/small:\n  providerId: process\n  config: {minCapacity: 0, maxCapacity: 2}\n"
    )
    assert pools["p/small"].description == "" and pools["p/small"].email_on_error is False
    assert parse_pools_file("") == {}
    with pytest.raises(PoolFileError, match="not a worker pool id"):
        parse_pools_file("nope:\n  providerId: static\n  config: {}\n")
    with pytest.raises(PoolFileError, match=r"p/x.*providerId"):
        parse_pools_file("p/x:\n  config: {}\n")
    with pytest.raises(PoolFileError, match="map worker pool ids"):
        parse_pools_file("- a\n- b\n")


def _settings(**changes: object) -> Settings:
    base: dict[str, object] = {
        "root_url": "http://127.0.0.1:1",
        "task_queue_id": "p/w",
        "worker_id": "w1",
    }
    base.update(changes)
    return Settings(**base)  # type: ignore[arg-type]


def test_a_pools_worker_config_is_applied_over_the_workers_settings_but_not_its_identity() -> None:
    settings, ignored = with_worker_config(
        _settings(),
        {
            "idleTimeout": 30,
            "capacity": 4,
            "engine": "process",
            "shutdown-grace": 2,
            "workerId": "x",
            "bogus": 1,
        },
    )
    assert (settings.idle_timeout_s, settings.capacity, settings.engine) == (30.0, 4, "process")
    assert (settings.shutdown_grace_s, settings.worker_id) == (2.0, "w1")
    assert sorted(ignored) == ["bogus", "workerId"]
    with pytest.raises(SettingsError):
        with_worker_config(_settings(), {"capacity": 0})


def test_registration_needs_both_the_provisioner_and_the_secret() -> None:
    with pytest.raises(SettingsError, match="both"):
        _settings(registration_secret="s")
    assert _settings(registration_secret="s", provisioner_url="http://x").provider_id == "static"


def test_workers_reregister_with_a_quarter_of_their_lifetime_left_at_least_30_s_early_or_halfway() -> (
    None
):
    assert reregister_at_s(1000.0, 0.0) == 750.0
    assert reregister_at_s(100.0, 0.0) == 70.0
    assert reregister_at_s(10.0, 0.0) == 5.0
    assert reregister_at_s(-1.0, 0.0) == 0.0


def test_process_launch_configs_refuse_unknown_fields(tmp_path: Path) -> None:
    with pytest.raises(ApiError, match=r"unknown field `image`"):
        decode_config(
            "process", {"minCapacity": 0, "maxCapacity": 1, "launchConfigs": [{"image": "x"}]}
        )
    assert ProcessLaunchConfig().env == {}
