"""Client.history, Client.rollback, Client.status and the deployed previous tag against the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rollout
from conftest import Kube, deployment, namespace, normalised, ready, run_cli, unplaced
from rollout.testing import Sandbox


def three_releases(client: rollout.Client) -> None:
    """web at revisions 1, 2 and 3 (images app:1, app:2, app:3), each rolled out and recorded healthy."""
    ready(client, "web", "registry.example/app:1", replicas=2)
    client.deploy("web", "registry.example/app:2")
    client.deploy("web", "registry.example/app:3")


def test_history_lists_every_revision_with_images_causes_and_health(client: rollout.Client) -> None:
    three_releases(client)
    history = client.history("web")
    assert isinstance(history, rollout.History)
    assert (history.target.kind, history.target.name) == ("deployment", "web")
    assert [r.revision for r in history.revisions] == [1, 2, 3]
    assert [r.images[0].image for r in history.revisions] == [f"registry.example/app:{n}" for n in (1, 2, 3)]
    assert [r.change_cause for r in history.revisions][1:] == [
        "rollout: web=registry.example/app:2",
        "rollout: web=registry.example/app:3",
    ]
    assert all(r.healthy_at is not None and r.created_at is not None for r in history.revisions)
    assert [r.current for r in history.revisions] == [False, False, True]
    assert history.current == history.revisions[-1]
    assert history.current is not None and history.current.replicas == 2


def test_history_and_rollback_errors(client: rollout.Client, kube: Kube) -> None:
    with pytest.raises(rollout.NotFoundError, match="default/deployment/nope not found"):
        client.history("nope")
    with pytest.raises(rollout.InvalidInputError, match='invalid kind "statefulset": rollout history and rollback'):
        client.history("statefulset/db")
    with pytest.raises(rollout.InvalidInputError, match="give to_revision or to_tag, not both"):
        client.rollback("web", to_revision=1, to_tag="1")
    three_releases(client)
    with pytest.raises(rollout.NotFoundError, match=r"unable to find specified revision 7 in history .*1, 2, 3"):
        client.rollback("web", to_revision=7)
    with pytest.raises(rollout.NotFoundError, match='no revision uses an image with tag "9"'):
        client.rollback("web", to_tag="9")
    kube.merge_patch("/apis/apps/v1/namespaces/default/deployments/web", {"spec": {"paused": True}})
    with pytest.raises(rollout.InvalidInputError, match="you cannot rollback a paused deployment"):
        client.rollback("web")


def test_rollback_goes_to_the_last_good_revision_by_default(sandbox: Sandbox, client: rollout.Client) -> None:
    three_releases(client)
    sandbox.set_image_behaviour("registry.example/app:4", crash_after=1)
    with pytest.raises(rollout.RolloutFailedError):
        client.deploy("web", "registry.example/app:4", timeout=60)
    events: list[str] = []
    report = client.rollback("web", on_progress=lambda e: events.append(e.event))
    assert (report.operation, report.outcome) == ("rollback", "succeeded")
    # Revision 3's ReplicaSet becomes revision 5, as the Deployment controller renumbers it.
    assert (report.previous_revision, report.revision) == (4, 5)
    assert (report.images[0].previous, report.images[0].new) == ("registry.example/app:4", "registry.example/app:3")
    assert events[0] == "rolling_back" and events[-1] == "finished"
    assert [r.revision for r in client.history("web").revisions] == [1, 2, 4, 5]
    again = client.rollback("web", to_tag="3")
    assert (again.outcome, again.reason) == ("unchanged", "AlreadyAtRevision")


def test_rollback_to_a_revision_a_tag_or_the_previous_one(client: rollout.Client) -> None:
    three_releases(client)
    assert client.rollback("web", to_revision=1).images[0].new == "registry.example/app:1"
    assert client.rollback("web", to_tag="2", timeout="2m").images[0].new == "registry.example/app:2"
    # kubectl rollout undo: the second-highest revision, whatever its health.
    assert client.rollback("web", to_last_good=False).images[0].new == "registry.example/app:1"


def test_status_reports_without_waiting(sandbox: Sandbox, client: rollout.Client, kube: Kube) -> None:
    sandbox.set_image_behaviour("registry.example/app:stuck", never_ready=True)
    kube.create("/apis/apps/v1/namespaces/default/deployments", deployment("web", "registry.example/app:stuck", 1))
    status = client.status("web")
    assert isinstance(status, rollout.WorkloadStatus)
    assert status.state in ("observing_spec", "progressing") and not status.is_terminal
    with pytest.raises(rollout.NotFoundError):
        client.status("daemonset/nope")


def test_the_deployed_previous_tag_is_the_last_healthy_release_before_the_current(
    sandbox: Sandbox, client: rollout.Client
) -> None:
    three_releases(client)
    sandbox.set_image_behaviour("registry.example/app:4", crash_after=1)
    with pytest.raises(rollout.RolloutFailedError):
        client.deploy("web", "registry.example/app:4", timeout=60)
    found = client.previous_tag(strategy="deployed", deployment="web")
    assert isinstance(found, rollout.DeployedTag)
    assert (found.tag, found.image, found.revision, found.healthy) == ("3", "registry.example/app:3", 3, True)
    assert client.previous_tag(strategy="deployed", deployment="web", container="web") == found


def test_the_deployed_previous_tag_refuses_what_only_ecr_strategies_take(client: rollout.Client) -> None:
    with pytest.raises(rollout.InvalidInputError, match='invalid repository "app": the deployed strategy reads'):
        client.previous_tag("app", "deployed", deployment="web")  # type: ignore[call-overload]
    with pytest.raises(rollout.InvalidInputError, match='invalid deployment "None": the deployed strategy needs'):
        client.previous_tag(strategy="deployed")  # type: ignore[call-overload]
    with pytest.raises(rollout.InvalidInputError, match='invalid tag_prefix "given": only the ECR strategies'):
        client.previous_tag(strategy="deployed", deployment="web", tag_prefix="v")  # type: ignore[call-overload]
    with pytest.raises(rollout.InvalidInputError, match='invalid deployment "given": only the deployed strategy'):
        client.previous_tag("app", deployment="web")  # type: ignore[call-overload]
    with pytest.raises(rollout.NotFoundError, match="default/deployment/web not found"):
        client.previous_tag(strategy="deployed", deployment="web")


def test_rollback_without_waiting_writes_it_and_returns(client: rollout.Client) -> None:
    three_releases(client)
    report = client.rollback("web", to_revision=1, wait=False)
    # The revision the rollback goes to, as it was numbered when the rollback was written.
    assert (report.outcome, report.revision) == ("started", 1)
    assert report.message.startswith("the rollback to revision 1 was written; not waiting")
    assert client.wait("web", timeout=60).images[0].new == "registry.example/app:1"


def test_history_rollback_and_deployed_tag_are_what_the_cli_prints(
    sandbox: Sandbox, client: rollout.Client, cli: Path
) -> None:
    # The same three releases in two namespaces: one read and rolled back by the CLI, one by the client.
    namespace(sandbox, "other")
    three_releases(client)
    other = sandbox.client(namespace="other")
    other.apply(unplaced(deployment("web", "registry.example/app:1", replicas=2)))
    other.deploy("web", "registry.example/app:2")
    other.deploy("web", "registry.example/app:3")
    on_other = ("-n", "other")

    def settled(history: dict[str, Any]) -> dict[str, Any]:
        # An old ReplicaSet's pod count may still be going down when the history is read.
        for revision in history["revisions"]:
            revision["replicas"] = revision["replicas"] if revision["current"] else "old"
        return normalised(history)

    assert settled(client.history("web").to_dict()) == settled(run_cli(cli, sandbox, *on_other, "history", "web"))
    found = client.previous_tag(strategy="deployed", deployment="web")
    assert found.to_dict() | {"replica_set": ""} == run_cli(
        cli, sandbox, *on_other, "previous", "--strategy", "deployed", "--deployment", "web"
    ) | {"replica_set": ""}
    ours = client.rollback("web", to_revision=1)
    theirs = run_cli(cli, sandbox, *on_other, "rollback", "web", "--to-revision", "1")
    assert list(ours.to_dict()) == list(theirs)
    assert normalised(ours.to_dict()) == normalised(theirs)
