"""Client.deploy, Client.apply and Client.wait against the sandbox: reports, progress, and every error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import rollout
from conftest import Kube, deployment, namespace, normalised, ready, run_cli, unplaced
from rollout import ProgressEvent
from rollout.testing import Sandbox


class Boom(Exception):
    """Raised by a progress callback."""


# --- deploy ---------------------------------------------------------------------------------------------


def test_deploy_rolls_out_the_new_image_and_reports_it(client: rollout.Client, kube: Kube) -> None:
    ready(client, "web", "registry.example/app:1")
    report = client.deploy("web", "registry.example/app:2", timeout=60)
    assert isinstance(report, rollout.RolloutReport)
    assert (report.operation, report.outcome, report.reason) == ("deploy", "succeeded", None)
    assert report.is_success
    assert report.message == 'deployment "web" successfully rolled out'
    assert (report.target.namespace, report.target.kind, report.target.name) == ("default", "deployment", "web")
    assert [(i.container, i.previous, i.new) for i in report.images] == [
        ("web", "registry.example/app:1", "registry.example/app:2")
    ]
    assert report.change_cause == "rollout: web=registry.example/app:2"
    assert (report.previous_revision, report.revision) == (1, 2)
    assert [c.check for c in report.preflight] == [
        "workload",
        "container",
        "image-exists",
        "readiness-probe",
        "strategy",
        "paused",
        "floating-tag",
    ]
    assert {c.status for c in report.preflight} <= {"passed", "skipped"}
    assert report.status is not None and report.status.is_complete
    assert report.problems == [] and report.rollback is None
    assert report.finished_at >= report.started_at and report.started_at.tzinfo is not None
    live = kube.get("/apis/apps/v1/namespaces/default/deployments/web")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/app:2"
    assert live["metadata"]["annotations"]["kubernetes.io/change-cause"] == report.change_cause


def test_deploy_takes_containers_by_name_a_change_cause_and_a_workload_ref(client: rollout.Client) -> None:
    first = ready(client, "web", "registry.example/app:1").rollouts.reports[0]
    report = client.deploy(
        first.target, containers={"web": rollout.ImageRef("registry.example/app:2")}, change_cause="release 2"
    )
    assert report.change_cause == "release 2"
    assert report.images[0].new == "registry.example/app:2"
    again = client.deploy("deployment/web", containers={"*": "registry.example/app:2"}, timeout="1m")
    assert (again.outcome, again.reason) == ("unchanged", "AlreadyAtImage")


def test_deploy_in_another_namespace(sandbox: Sandbox, kube: Kube) -> None:
    kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    shop = sandbox.client(namespace="shop")
    manifest = deployment("api", "registry.example/api:1")
    del manifest["metadata"]["namespace"]
    shop.apply(manifest)
    assert shop.deploy("api", "registry.example/api:2").target.namespace == "shop"
    assert sandbox.client().status("api", namespace="shop").is_complete
    with pytest.raises(rollout.NotFoundError, match='default/deployment/api not found'):
        sandbox.client().status("api")


def test_a_missing_deployment_is_not_found_and_a_lookup_error(client: rollout.Client) -> None:
    with pytest.raises(rollout.NotFoundError, match="default/deployment/nope not found") as caught:
        client.deploy("nope", "registry.example/app:2")
    assert isinstance(caught.value, LookupError)


def test_a_bad_image_is_refused_naming_the_argument(client: rollout.Client) -> None:
    with pytest.raises(rollout.InvalidInputError, match='^invalid image "Registry.example/App:2": ') as caught:
        client.deploy("web", "Registry.example/App:2")
    assert isinstance(caught.value, ValueError)
    with pytest.raises(rollout.InvalidInputError, match=r'^invalid containers\["web"\] "bad image": '):
        client.deploy("web", containers={"web": "bad image"})
    with pytest.raises(TypeError, match="image must be an image reference"):
        client.deploy("web", 42)  # type: ignore[call-overload]


def test_an_unknown_container_is_refused_naming_the_argument(client: rollout.Client) -> None:
    ready(client, "web", "registry.example/app:1", replicas=1)
    with pytest.raises(
        rollout.InvalidInputError,
        match='^invalid containers "sidecar": default/deployment/web has no such container; its containers are web$',
    ):
        client.deploy("web", containers={"sidecar": "registry.example/side:2"})


def test_image_and_containers_and_neither_are_refused(client: rollout.Client) -> None:
    with pytest.raises(rollout.InvalidInputError, match="not both"):
        client.deploy("web", "registry.example/app:2", containers={"web": "registry.example/app:2"})
    with pytest.raises(rollout.InvalidInputError, match='^invalid image "None": give the new image'):
        client.deploy("web")
    with pytest.raises(rollout.InvalidInputError, match="name at least one container"):
        client.deploy("web", containers={})


def test_bad_workload_names_are_refused_naming_the_argument(client: rollout.Client) -> None:
    with pytest.raises(rollout.InvalidInputError, match='^invalid deployment "pod/web": unknown kind "pod"'):
        client.deploy("pod/web", "registry.example/app:2")
    for bad in ("deployment/", "Web", "a/b/c", ""):
        with pytest.raises(rollout.InvalidInputError, match=f'^invalid deployment "{bad}": '):
            client.deploy(bad, "registry.example/app:2")
    with pytest.raises(rollout.InvalidInputError, match='^invalid workloads\\[1\\] "sts/": '):
        client.wait("web", "sts/", timeout=1)
    with pytest.raises(TypeError, match="deployment must be a workload name"):
        client.deploy(3, "registry.example/app:2")  # type: ignore[call-overload]


def test_a_failed_preflight_check_changes_nothing_and_can_be_skipped(client: rollout.Client, kube: Kube) -> None:
    ready(client, "web", "registry.example/app:1", replicas=2)
    with pytest.raises(rollout.InvalidInputError, match="preflight failed, nothing was changed: .*floating-tag"):
        client.deploy("web", "registry.example/app:latest")
    live = kube.get("/apis/apps/v1/namespaces/default/deployments/web")
    assert live["metadata"]["generation"] == 1
    report = client.deploy("web", "registry.example/app:latest", skip_preflight="floating_tag")  # type: ignore[arg-type]
    assert [c.status for c in report.preflight if c.check == "floating-tag"] == ["skipped"]
    with pytest.raises(rollout.InvalidInputError, match='^invalid skip_preflight "colour": the checks are workload, '):
        client.deploy("web", "registry.example/app:3", skip_preflight=["colour"])  # type: ignore[list-item]


def test_the_image_exists_check_asks_the_sandbox_registry(sandbox: Sandbox, client: rollout.Client) -> None:
    sandbox.push_image("app", "1.0.0")
    ready(client, "web", sandbox.image("app", "1.0.0"), replicas=1)
    with pytest.raises(rollout.InvalidInputError, match=r"image-exists: .*app:1\.0\.1 does not exist in its ECR"):
        client.deploy("web", sandbox.image("app", "1.0.1"))
    sandbox.push_image("app", "1.0.1")
    report = client.deploy("web", sandbox.image("app", "1.0.1"))
    check = next(c for c in report.preflight if c.check == "image-exists")
    assert (check.status, check.message) == ("passed", f"found in ECR: {sandbox.image('app', '1.0.1')}")


def test_a_crashing_image_raises_rollout_failed_with_the_report(sandbox: Sandbox, client: rollout.Client) -> None:
    ready(client, "web", "registry.example/app:1", replicas=2)
    sandbox.set_image_behaviour("registry.example/app:bad", crash_after=1, log_lines=["panic: no config"])
    with pytest.raises(rollout.RolloutFailedError) as caught:
        client.deploy("web", "registry.example/app:bad", timeout=60)
    report = caught.value.report
    assert isinstance(report, rollout.RolloutReport)
    assert (report.outcome, report.reason) == ("failed", "CrashLoopBackOff")
    assert str(caught.value).startswith("default/deployment/web: failed: ")
    assert report.problems[0].fatal and "panic: no config" in report.problems[0].log_tail
    assert caught.value.result is None
    assert not report.is_success


def test_rollback_on_failure_rolls_back_and_still_raises(sandbox: Sandbox, client: rollout.Client, kube: Kube) -> None:
    ready(client, "web", "registry.example/app:1", replicas=2)
    sandbox.set_image_behaviour("registry.example/app:bad", crash_after=1)
    with pytest.raises(rollout.RolloutFailedError) as caught:
        client.deploy("web", "registry.example/app:bad", rollback_on_failure=True, timeout=60)
    report = caught.value.report
    assert report is not None and report.outcome == "rolled_back"
    assert report.rollback is not None
    assert (report.rollback.operation, report.rollback.outcome) == ("rollback", "succeeded")
    assert report.rollback.images[0].new == "registry.example/app:1"
    live = kube.get("/apis/apps/v1/namespaces/default/deployments/web")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/app:1"


def test_a_never_ready_image_raises_rollout_timeout(sandbox: Sandbox, client: rollout.Client) -> None:
    ready(client, "web", "registry.example/app:1", replicas=1)
    sandbox.set_image_behaviour("registry.example/app:stuck", never_ready=True)
    with pytest.raises(rollout.RolloutTimeoutError) as caught:
        client.deploy("web", "registry.example/app:stuck", timeout=1)
    report = caught.value.report
    assert report is not None and (report.outcome, report.reason) == ("timed_out", "Timeout")


def test_without_waiting_the_change_is_written_and_the_rollout_goes_on(client: rollout.Client) -> None:
    ready(client, "web", "registry.example/app:1")
    report = client.deploy("web", "registry.example/app:2", wait=False)
    assert (report.outcome, report.is_success) == ("started", True)
    assert report.message.startswith("the change was written (generation 2); not waiting")
    assert client.wait("web", timeout=60).images[0].new == "registry.example/app:2"
    with pytest.raises(rollout.InvalidInputError, match='invalid rollback_on_failure "true": a rollback on failure'):
        client.deploy("web", "registry.example/app:3", wait=False, rollback_on_failure=True)


def test_a_dry_run_shows_the_patch_and_writes_nothing(client: rollout.Client, kube: Kube) -> None:
    ready(client, "web", "registry.example/app:1")
    report = client.deploy("web", "registry.example/app:2", dry_run=True)
    assert (report.outcome, report.reason, report.is_success) == ("dry_run", "DryRun", True)
    assert report.patch is not None
    assert report.patch["spec"]["template"]["spec"]["containers"] == [{"name": "web", "image": "registry.example/app:2"}]
    live = kube.get("/apis/apps/v1/namespaces/default/deployments/web")
    assert live["metadata"]["generation"] == 1
    applied = client.apply(deployment("web", "registry.example/app:3"), dry_run=True)
    assert applied.rollouts.reports[0].outcome == "dry_run"
    assert kube.get("/apis/apps/v1/namespaces/default/deployments/web")["metadata"]["generation"] == 1


def test_a_tag_alone_changes_the_tag_of_the_image_running_now(client: rollout.Client) -> None:
    ready(client, "web", "registry.example/app:1")
    report = client.deploy("web", ":2")
    assert report.images[0].new == "registry.example/app:2"
    report = client.deploy("web", containers={"web": ":3"})
    assert report.images[0].new == "registry.example/app:3"
    applied = client.apply(deployment("web", "registry.example/app:1"), image=":4")
    assert applied.rollouts.reports[0].images[0].new == "registry.example/app:4"
    with pytest.raises(rollout.InvalidInputError, match='^invalid image ":bad tag": '):
        client.deploy("web", ":bad tag")


# --- progress -------------------------------------------------------------------------------------------


def test_progress_events_arrive_in_order_on_the_calling_thread(client: rollout.Client) -> None:
    import threading

    ready(client, "web", "registry.example/app:1")
    events: list[ProgressEvent] = []
    threads: set[int] = set()

    def record(event: ProgressEvent) -> None:
        events.append(event)
        threads.add(threading.get_ident())

    report = client.deploy("web", "registry.example/app:2", on_progress=record)
    kinds = [e.event for e in events]
    assert kinds[0] == "preflight" and kinds[1] == "updated" and kinds[-1] == "finished", kinds
    assert set(kinds[2:-1]) <= {"status", "problem", "warning"} and "status" in kinds
    assert threads == {threading.get_ident()}
    preflight, updated, finished = events[0], events[1], events[-1]
    assert [c.check for c in preflight.checks] == [c.check for c in report.preflight]
    assert updated.images == report.images and updated.change_cause == report.change_cause
    assert (finished.outcome, finished.message) == ("succeeded", report.message)
    assert finished.text == f"default/deployment/web: succeeded: {report.message}" == str(finished)
    statuses = [e.status.message for e in events if e.status is not None]
    assert statuses[-1] == report.message
    assert all(e.target == report.target for e in events)
    assert json.loads(finished.to_json()) == finished.to_dict()
    assert finished.to_dict() == {"event": "finished", "target": report.target.to_dict(), "outcome": "succeeded",
                                  "message": report.message}


def test_an_exception_in_the_callback_stops_the_call_and_propagates(client: rollout.Client, kube: Kube) -> None:
    ready(client, "web", "registry.example/app:1")
    seen: list[str] = []

    def explode(event: ProgressEvent) -> None:
        seen.append(event.event)
        if event.event == "updated":
            raise Boom("stop here")

    with pytest.raises(Boom, match="stop here"):
        client.deploy("web", "registry.example/app:2", on_progress=explode)
    assert seen == ["preflight", "updated"], "no event is delivered after the callback raised"
    # The write happened before the callback raised; only the wait was dropped.
    live = kube.get("/apis/apps/v1/namespaces/default/deployments/web")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/app:2"


def test_an_exception_in_the_first_event_is_raised_and_no_other_event_is_delivered(client: rollout.Client) -> None:
    ready(client, "web", "registry.example/app:1")
    seen: list[str] = []

    def refuse(event: ProgressEvent) -> None:
        seen.append(event.event)
        raise Boom(event.event)

    # A callback cannot veto the change: the core goes on to the write it had started deciding, and the
    # call stops at its next wait. It is the wait that is dropped, and the exception that is raised.
    with pytest.raises(Boom, match="^preflight$"):
        client.deploy("web", "registry.example/app:2", on_progress=refuse)
    assert seen == ["preflight"]


def test_deploy_of_a_list_rolls_each_workload_and_gives_a_combined_report(sandbox: Sandbox, client: rollout.Client, kube: Kube) -> None:
    ready(client, "web", "registry.example/app:1")
    ready(client, "api", "registry.example/api:1")
    # A new tag keeps each container's own repository.
    both = client.deploy(["web", "deployment/api"], ":2", timeout=60)
    assert isinstance(both, rollout.CombinedReport) and both.is_success
    assert [(r.target.name, r.outcome, r.images[0].new) for r in both.reports] == [
        ("web", "succeeded", "registry.example/app:2"),
        ("api", "succeeded", "registry.example/api:2"),
    ]

    # One workload failing its checks stops the change for all of them.
    kube.create("/apis/apps/v1/namespaces/default/deployments", deployment("paused", "registry.example/app:1", 1))
    kube.merge_patch("/apis/apps/v1/namespaces/default/deployments/paused", {"spec": {"paused": True}})
    with pytest.raises(rollout.InvalidInputError, match="default/deployment/paused: paused: "):
        client.deploy(("web", "paused"), ":3", timeout=60)
    live = kube.get("/apis/apps/v1/namespaces/default/deployments/web")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/app:2"

    # A failed rollout among them raises with its report, and the whole CombinedReport as `.result`.
    sandbox.set_image_behaviour("registry.example/api:bad", crash_after=1)
    with pytest.raises(rollout.RolloutFailedError) as caught:
        client.deploy(["web", "api"], ":bad", timeout=60)
    combined = caught.value.result
    assert isinstance(combined, rollout.CombinedReport) and combined.outcome == "failed"
    assert caught.value.report is not None and caught.value.report.target.name == "api"

    with pytest.raises(rollout.InvalidInputError, match=r'^invalid deployment "\[\]": name at least one workload$'):
        client.deploy([], ":4")
    with pytest.raises(TypeError, match=r"deployment\[1\] must be a workload name"):
        client.deploy(["web", 7], ":4")  # type: ignore[list-item]


# --- the report is the core's JSON ------------------------------------------------------------------------


def test_the_report_is_what_rollout_deploy_prints_for_the_same_rollout(sandbox: Sandbox, client: rollout.Client, cli: Path) -> None:
    # The same Deployment and change in two namespaces, one deployed by the CLI, one by the client.
    namespace(sandbox, "other")
    ready(client, "web", "registry.example/app:1")
    client.apply(unplaced(deployment("web", "registry.example/app:1")), namespace="other")
    ours = client.deploy("web", "registry.example/app:2")
    theirs = run_cli(cli, sandbox, "-n", "other", "deploy", "web", "--image", "registry.example/app:2")
    # `rollout deploy` prints a CombinedReport even for one workload; the client's deploy of one gives its
    # RolloutReport (and of a list, a CombinedReport).
    assert theirs["outcome"] == "succeeded" and len(theirs["reports"]) == 1
    assert list(ours.to_dict()) == list(theirs["reports"][0]), "same fields in the same order"
    assert normalised(ours.to_dict()) == normalised(theirs["reports"][0])
    assert json.loads(ours.to_json(indent=2)) == ours.to_dict()
    assert client.status("web").to_dict() == run_cli(cli, sandbox, "-n", "other", "status", "web", "--watch=false")[0]["status"]


# --- apply ----------------------------------------------------------------------------------------------


def test_apply_creates_then_leaves_unchanged_objects_given_as_dicts(client: rollout.Client) -> None:
    created = client.apply(deployment("web", "registry.example/app:1"))
    assert isinstance(created, rollout.ApplyReport)
    assert [(o.kind, o.name, o.namespace, o.action) for o in created.applied] == [
        ("Deployment", "web", "default", "created")
    ]
    rollout_report = created.rollouts.reports[0]
    assert (rollout_report.operation, rollout_report.outcome) == ("apply", "succeeded")
    again = client.apply([deployment("web", "registry.example/app:1")])
    assert again.applied[0].action == "unchanged"


def test_apply_reads_yaml_text_and_files_and_overrides_the_image(client: rollout.Client, tmp_path: Path) -> None:
    import yaml  # type: ignore[import-untyped]

    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump(deployment("web", "registry.example/app:1")))
    assert client.apply(path).rollouts.reports[0].images[0].new == "registry.example/app:1"
    report = client.apply(path.read_text(), image="registry.example/app:2")
    assert report.applied[0].action == "configured"
    assert report.rollouts.reports[0].images[0].new == "registry.example/app:2"
    report = client.apply(path, containers={"web": "registry.example/app:3"}, change_cause="three")
    assert report.rollouts.reports[0].change_cause == "three"
    with pytest.raises(rollout.NotFoundError, match="cannot read "):
        client.apply(tmp_path / "missing.yaml")
    with pytest.raises(rollout.InvalidInputError, match="invalid manifest"):
        client.apply("kind: [")


def test_apply_raises_with_the_report_and_the_whole_result(sandbox: Sandbox, client: rollout.Client) -> None:
    sandbox.set_image_behaviour("registry.example/app:bad", crash_after=1)
    with pytest.raises(rollout.RolloutFailedError) as caught:
        client.apply(deployment("web", "registry.example/app:bad", replicas=1), timeout=60)
    assert isinstance(caught.value.result, rollout.ApplyReport)
    assert caught.value.report == caught.value.result.rollouts.reports[0]
    assert caught.value.result.rollouts.outcome == "failed"


# --- wait -----------------------------------------------------------------------------------------------


def test_wait_for_one_gives_its_report_and_for_several_a_combined_one(client: rollout.Client) -> None:
    ready(client, "web", "registry.example/app:1")
    ready(client, "api", "registry.example/api:1")
    one = client.wait("web", timeout=30)
    assert isinstance(one, rollout.RolloutReport)
    assert (one.operation, one.outcome, one.images[0].new) == ("wait", "succeeded", "registry.example/app:1")
    both = client.wait("web", "deployment/api", timeout=30)
    assert isinstance(both, rollout.CombinedReport) and both.is_success
    assert [r.target.name for r in both.reports] == ["web", "api"]


def test_wait_errors(sandbox: Sandbox, client: rollout.Client, kube: Kube) -> None:
    with pytest.raises(rollout.NotFoundError, match="default/deployment/nope not found"):
        client.wait("nope", timeout=10)
    with pytest.raises(rollout.InvalidInputError, match="name at least one workload"):
        client.wait(timeout=10)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="timeout"):
        client.wait("web")  # type: ignore[call-overload]
    with pytest.raises(rollout.InvalidInputError, match='invalid timeout "soon"'):
        client.wait("web", timeout="soon")
    ready(client, "web", "registry.example/app:1")
    sandbox.set_image_behaviour("registry.example/bad:*", crash_after=1)
    kube.create("/apis/apps/v1/namespaces/default/deployments", deployment("bad", "registry.example/bad:1", 1))
    with pytest.raises(rollout.RolloutFailedError) as caught:
        client.wait("web", "bad", timeout=60)
    combined = caught.value.result
    assert isinstance(combined, rollout.CombinedReport) and combined.outcome == "failed"
    assert caught.value.report is not None and caught.value.report.target.name == "bad"
    assert [r.outcome for r in combined.reports] == ["succeeded", "failed"]


def test_wait_reports_progress(client: rollout.Client) -> None:
    ready(client, "web", "registry.example/app:1")
    events: list[str] = []
    client.wait("web", timeout=30, on_progress=lambda e: events.append(e.event))
    assert events[0] == "status" and events[-1] == "finished"


def test_a_report_from_a_call_works_as_a_workload_argument(client: rollout.Client) -> None:
    report = ready(client, "web", "registry.example/app:1").rollouts.reports[0]
    assert client.status(report.target).is_complete
    assert client.history(report.target).target == report.target


