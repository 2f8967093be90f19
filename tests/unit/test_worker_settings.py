"""Worker settings: flags over INFRAX_WORKER_* variables over the config file over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.settings import SettingsError, parse_settings

BASE = ["--root-url", "http://queue", "--task-queue-id", "prov/type"]


def test_defaults() -> None:
    settings = parse_settings(BASE, {})
    assert (settings.engine, settings.capacity, settings.idle_timeout_s) == ("docker", 1, 0.0)
    assert settings.credentials is None


def test_flags_win_over_variables_which_win_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "worker.toml"
    config.write_text(
        'capacity = 2\nengine = "process"\nidle-timeout = 30\nworker_group = "file"\n'
    )
    env = {
        "INFRAX_WORKER_CONFIG": str(config),
        "INFRAX_WORKER_CAPACITY": "3",
        "INFRAX_WORKER_ALLOW_PRIVILEGED": "yes",
        "TASKCLUSTER_CLIENT_ID": "me",
        "TASKCLUSTER_ACCESS_TOKEN": "secret-token",
    }
    settings = parse_settings([*BASE, "--capacity", "4"], env)
    assert settings.capacity == 4
    assert (settings.engine, settings.idle_timeout_s, settings.worker_group) == (
        "process",
        30.0,
        "file",
    )
    assert settings.allow_privileged is True
    assert settings.credentials is not None and settings.credentials.client_id == "me"
    assert "secret-token" not in repr(settings)


def test_the_root_url_and_queue_come_from_the_taskcluster_variables() -> None:
    env = {"TASKCLUSTER_ROOT_URL": "https://tc.example.com", "INFRAX_WORKER_TASK_QUEUE_ID": "p/t"}
    settings = parse_settings([], env)
    assert (settings.root_url, settings.task_queue_id) == ("https://tc.example.com", "p/t")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "missing --root-url and --task-queue-id"),
        ([*BASE[:2], "--task-queue-id", "no-slash"], "is not PROV/TYPE"),
        ([*BASE, "--capacity", "0"], "capacity must be at least 1"),
        ([*BASE, "--capacity", "many"], "is not a number"),
        ([*BASE, "--engine", "vm"], "engine must be docker or process"),
        ([*BASE, "--worker-id", "has.dot"], "worker_id must be"),
        ([*BASE, "--allow-privileged", "maybe"], "must be true or false"),
    ],
)
def test_bad_settings_are_named(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(argv, {})
    assert message in str(raised.value)


def test_an_unknown_key_in_the_config_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "worker.toml"
    config.write_text("capacty = 2\n")
    with pytest.raises(SettingsError) as raised:
        parse_settings([*BASE, "--config", str(config)], {})
    assert "unknown setting 'capacty'" in str(raised.value)
