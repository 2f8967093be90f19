"""The queue's settings: flags win over INFRAX_* variables, which win over defaults."""

from __future__ import annotations

from pathlib import Path

from queue_server.main import advertise_url
from queue_server.settings import Settings, parse_settings


def test_defaults_leave_amqp_off_and_buffer_events() -> None:
    settings = parse_settings([], env={})
    assert settings.amqp_url is None
    assert settings.events_buffer == 1000
    assert settings.amqp_exchange_prefix == "exchange/taskcluster-queue/v1/"


def test_amqp_and_event_settings_come_from_flags_or_the_environment() -> None:
    env = {
        "INFRAX_AMQP_URL": "amqp://u:secret@broker:5672/",
        "INFRAX_AMQP_EXCHANGE_PREFIX": "exchange/mine/v1/",
        "INFRAX_AMQP_MAX_BACKOFF": "2.5",
        "INFRAX_EVENTS_BUFFER": "50",
    }
    from_env = parse_settings([], env=env)
    assert from_env.amqp_url == "amqp://u:secret@broker:5672/"
    assert from_env.amqp_exchange_prefix == "exchange/mine/v1/"
    assert from_env.amqp_max_backoff_s == 2.5
    assert from_env.events_buffer == 50
    flags = parse_settings(["--amqp-url", "amqp://other/", "--events-buffer", "7"], env=env)
    assert (flags.amqp_url, flags.events_buffer) == ("amqp://other/", 7)


def test_the_broker_password_stays_out_of_the_settings_repr() -> None:
    settings = Settings(data_dir=Path("d"), amqp_url="amqp://u:secret@broker/")
    assert "secret" not in repr(settings)


def test_the_address_other_replicas_use_comes_from_a_flag_or_the_environment() -> None:
    assert parse_settings([], env={}).advertise_url is None
    env = {"INFRAX_ADVERTISE_URL": "http://10.0.0.11:8080"}
    assert parse_settings([], env=env).advertise_url == "http://10.0.0.11:8080"
    flags = parse_settings(["--advertise-url", "http://q1.internal:8080"], env=env)
    assert flags.advertise_url == "http://q1.internal:8080"


def test_the_default_address_for_other_replicas_is_where_the_queue_listens() -> None:
    assert advertise_url("127.0.0.1", 8080) == "http://127.0.0.1:8080"
    assert advertise_url("::1", 8080) == "http://[::1]:8080"
    everywhere = advertise_url("0.0.0.0", 8080)  # this machine's address, not the wildcard
    assert everywhere.endswith(":8080") and "0.0.0.0" not in everywhere
