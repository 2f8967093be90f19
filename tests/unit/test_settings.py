"""The queue's settings: flags win over INFRAX_* variables, which win over defaults."""

from __future__ import annotations

from pathlib import Path

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
