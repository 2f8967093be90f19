"""What `infrax reproduce` makes of a payload (pure): the plan, or why it cannot."""

from __future__ import annotations

import pytest

from clients.cli.reproduce import CannotReproduce, DockerPlan, ProcessPlan, plan_of

STANDARD = {"TASK_ID": "t", "RUN_ID": "0", "TASK_GROUP_ID": "g", "TASKCLUSTER_ROOT_URL": "http://q"}


def test_a_docker_payload_keeps_image_command_env_and_says_what_is_left_out() -> None:
    plan = plan_of(
        {"image": {"type": "docker-image", "name": "alpine:3"}, "command": ["make"],
         "env": {"A": "1", "TASK_ID": "overridden"}, "maxRunTime": 60,
         "cache": {"ccache": "/cache"}, "artifacts": {"public/x": {"type": "file", "path": "/x"}},
         "capabilities": {"privileged": True}},
        STANDARD,
    )  # fmt: skip
    assert isinstance(plan, DockerPlan)
    assert (plan.image, plan.command, plan.max_run_time_s, plan.privileged) == (
        "alpine:3", ("make",), 60, True,
    )  # fmt: skip
    assert plan.env == {"A": "1", **STANDARD}  # the worker's standard variables win
    assert any("ccache" in note for note in plan.notes)
    assert any("artifacts" in note for note in plan.notes)


def test_a_process_payload_keeps_its_commands_in_order() -> None:
    plan = plan_of({"command": [["a"], ["b", "c"]], "maxRunTime": 5}, STANDARD)
    assert isinstance(plan, ProcessPlan)
    assert (plan.commands, plan.env, plan.notes) == ((("a",), ("b", "c")), STANDARD, ())


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"image": {"type": "indexed-image", "namespace": "n", "path": "p"}, "maxRunTime": 1},
         "comes from the index"),
        ({"image": "x", "maxRunTime": 1, "capabilities": {"devices": {"kvm": True}}},
         "capabilities.devices"),
        ({"image": "x", "maxRunTime": 1, "features": {"chainOfTrust": True}},
         "features.chainOfTrust"),
        ({"image": "x", "maxRunTime": 0}, "not a valid docker-worker payload"),
        ({"command": [["a"]], "maxRunTime": 1, "bogus": 1}, "not a valid generic-worker payload"),
    ],
)  # fmt: skip
def test_what_cannot_be_reproduced_is_refused_with_the_reason(
    payload: dict[str, object], reason: str
) -> None:
    with pytest.raises(CannotReproduce, match=reason):
        plan_of(payload, STANDARD)
