"""rollout.rollout_status and rollout.diagnose: kubectl's status decision and the pod diagnosis."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import rollout
from conftest import Kube, deployment, missing, wait_for
from rollout.testing import Sandbox

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


def kubectl_json(**status: Any) -> dict[str, Any]:
    """A Deployment as `kubectl get -o json` prints it (camelCase), generation 2."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": 2, "labels": {"app_name": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {}},
        "status": {"observedGeneration": 2, **status},
    }


def client_dict(**status: Any) -> dict[str, Any]:
    """The same Deployment as the kubernetes client's `to_dict()` gives it: snake_case, None for absent fields,
    datetimes for times."""
    return {
        "api_version": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": 2, "labels": {"app_name": "web"}, "deletion_timestamp": None},
        "spec": {
            "replicas": 3,
            "selector": {"match_labels": {"app": "web"}, "match_expressions": None},
            "template": {"metadata": None, "spec": None},
            "paused": None,
        },
        "status": {"observed_generation": 2, "collision_count": None, **status},
    }


class ClientModel:
    """Stands in for a kubernetes client model object (V1Deployment): it has `to_dict()`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return self.data


def test_a_rollout_with_old_replicas_waits_with_kubectls_message() -> None:
    status = rollout.rollout_status(kubectl_json(replicas=4, updatedReplicas=3, availableReplicas=3))
    assert (status.kind, status.name, status.state, status.reason) == (
        "deployment",
        "web",
        "progressing",
        "old_replicas_pending_termination",
    )
    assert status.message == 'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...'
    assert not status.is_complete and not status.is_failed and not status.is_terminal
    replicas = status.replicas
    assert (replicas.desired, replicas.current, replicas.updated, replicas.ready, replicas.available) == (3, 4, 3, 0, 3)


def test_a_complete_rollout_is_terminal() -> None:
    status = rollout.rollout_status(kubectl_json(replicas=3, updatedReplicas=3, availableReplicas=3, readyReplicas=3))
    assert status.state == "complete" and status.is_complete and status.is_terminal
    assert status.message == 'deployment "web" successfully rolled out'
    assert status.to_dict() == {
        "kind": "deployment",
        "name": "web",
        "state": "complete",
        "reason": "rolled_out",
        "message": 'deployment "web" successfully rolled out',
        "replicas": {"desired": 3, "current": 3, "updated": 3, "ready": 3, "available": 3},
    }


def test_a_deadline_exceeded_condition_fails_the_rollout() -> None:
    condition = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "web-7d9f" has timed out progressing.',
        "lastUpdateTime": "2024-05-01T10:00:00Z",
    }
    status = rollout.rollout_status(kubectl_json(replicas=3, updatedReplicas=1, conditions=[condition]))
    assert status.is_failed and status.is_terminal
    assert status.message == 'deployment "web" exceeded its progress deadline'
    data = status.to_dict()
    assert data["condition_message"] == 'ReplicaSet "web-7d9f" has timed out progressing.'
    assert data["last_update_time"] == "2024-05-01T10:00:00Z"


def test_an_unobserved_spec_waits_for_the_controller() -> None:
    data = kubectl_json()
    data["metadata"]["generation"] = 3
    status = rollout.rollout_status(data)
    assert status.state == "observing_spec" and status.reason is None
    assert status.message == "Waiting for deployment spec update to be observed..."


def test_the_kubernetes_client_form_gives_the_same_status() -> None:
    condition = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": "timed out",
        "last_update_time": T0,
        "last_transition_time": T0 - timedelta(minutes=10),
    }
    camel = kubectl_json(
        replicas=3,
        updatedReplicas=1,
        conditions=[{**condition, "lastUpdateTime": "2024-05-01T10:00:00Z", "lastTransitionTime": "2024-05-01T09:50:00Z"}],
    )
    for key in ("last_update_time", "last_transition_time"):
        camel["status"]["conditions"][0].pop(key)
    snake = client_dict(replicas=3, updated_replicas=1, available_replicas=None, conditions=[condition])
    assert rollout.rollout_status(snake) == rollout.rollout_status(camel)
    assert rollout.rollout_status(ClientModel(snake)) == rollout.rollout_status(camel)


def test_statefulsets_and_daemonsets_are_judged_by_their_kind() -> None:
    sts = {
        "kind": "StatefulSet",
        "metadata": {"name": "db", "generation": 1},
        "spec": {
            "replicas": 2,
            "selector": {},
            "serviceName": "db",
            "template": {},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        },
        "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 1},
    }
    status = rollout.rollout_status(sts)
    assert (status.kind, status.state, status.message) == ("stateful_set", "progressing", "Waiting for 1 pods to be ready...")
    ds = {
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "generation": 1},
        "spec": {"selector": {}, "template": {}, "updateStrategy": {"type": "OnDelete"}},
        "status": {"observedGeneration": 1, "desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberMisscheduled": 0, "numberReady": 1},
    }
    status = rollout.rollout_status(ds)
    assert (status.kind, status.state) == ("daemon_set", "unsupported")
    assert status.message == "rollout status is only available for RollingUpdate strategy type"


def test_bad_workloads_are_refused_by_name() -> None:
    with pytest.raises(rollout.InvalidInputError, match='invalid workload.kind "Pod": allowed: Deployment, StatefulSet'):
        rollout.rollout_status({"kind": "Pod", "metadata": {"name": "x"}})
    with pytest.raises(rollout.InvalidInputError, match="invalid workload .*not a valid Deployment object"):
        rollout.rollout_status({"kind": "Deployment", "spec": {"replicas": "three", "selector": {}, "template": {}}})
    with pytest.raises(TypeError, match="workload must be a dict"):
        rollout.rollout_status("deployment/web")
    with pytest.raises(rollout.InvalidInputError, match="invalid workload.status.conditions.*naive"):
        rollout.rollout_status(client_dict(conditions=[{"type": "Progressing", "status": "True", "last_update_time": datetime(2024, 5, 1)}]))


def pod(name: str, waiting: str | None = None, restarts: int = 0, ready: bool = False, **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"waiting": {"reason": waiting, "message": "back-off"}} if waiting else {"running": {"startedAt": "2024-05-01T09:00:00Z"}}
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "creationTimestamp": "2024-05-01T09:00:00Z"},
        "spec": {"containers": [{"name": "app", "image": "app:2"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "app:2",
                    "imageID": "",
                    "ready": ready,
                    "restartCount": restarts,
                    "state": state,
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-05-01T09:59:00Z"}}
                    if restarts
                    else {},
                    **extra,
                }
            ],
        },
    }


def test_a_crash_looping_pod_dooms_the_rollout() -> None:
    verdict = rollout.diagnose([pod("web-1", "CrashLoopBackOff", restarts=4)], [], now=T0)
    assert verdict.verdict == "failing" and verdict.is_failing
    problem = verdict.problems[0]
    assert (problem.pod, problem.container, problem.reason, problem.restart_count) == ("web-1", "app", "CrashLoopBackOff", 4)
    assert problem.fatal and not problem.transient
    assert (problem.exit_code, problem.last_termination_reason) == (1, "Error")
    assert problem.log_tail == []


def test_thresholds_decide_when_a_problem_is_fatal() -> None:
    pods = {"kind": "PodList", "items": [pod("web-1", "CrashLoopBackOff", restarts=2)]}
    assert rollout.diagnose(pods, now=T0).verdict == "pending"
    assert rollout.diagnose(pods, now=T0, crash_loop_restarts=2).verdict == "failing"


def test_ready_pods_are_healthy_and_durations_take_any_form() -> None:
    pods = [pod("web-1", ready=True), pod("web-2", ready=True)]
    for grace in (30, 30.0, timedelta(seconds=30), "30s"):
        verdict = rollout.diagnose(pods, None, now=T0, start_error_grace=grace, pull_error_after=grace, restart_window=grace)
        assert verdict.verdict == "healthy" and verdict.problems == []
        assert verdict.to_dict() == {"verdict": "healthy"}


def test_events_are_attached_to_the_problem_they_explain() -> None:
    event = {
        "metadata": {"name": "web-1.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "uid-web-1"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container app",
        "type": "Warning",
        "count": 5,
        "firstTimestamp": "2024-05-01T09:01:00Z",
        "lastTimestamp": "2024-05-01T09:59:00Z",
    }
    verdict = rollout.diagnose([pod("web-1", "CrashLoopBackOff", restarts=4)], {"items": [event]}, now=T0)
    events = verdict.problems[0].events
    assert [(e.type, e.reason, e.count) for e in events] == [("Warning", "BackOff", 5)]
    assert events[0].first_seen == datetime(2024, 5, 1, 9, 1, tzinfo=timezone.utc)


def test_diagnose_arguments_are_checked_by_name() -> None:
    with pytest.raises(rollout.InvalidInputError, match='invalid pull_error_after "ten": expected a number'):
        rollout.diagnose([], now=T0, pull_error_after="ten")
    with pytest.raises(rollout.InvalidInputError, match='invalid restart_window "-1": a duration cannot be negative'):
        rollout.diagnose([], now=T0, restart_window=-1)
    with pytest.raises(TypeError, match="start_error_grace must be seconds"):
        rollout.diagnose([], now=T0, start_error_grace=[1])  # type: ignore[arg-type]
    with pytest.raises(rollout.InvalidInputError, match=r"invalid pods\[0\]"):
        rollout.diagnose([{"metadata": {"name": 5}}], now=T0)
    with pytest.raises(TypeError, match="pods must be a list of Pods"):
        rollout.diagnose({"metadata": {}}, now=T0)
    with pytest.raises(rollout.InvalidInputError, match="invalid now"):
        rollout.diagnose([], now=datetime(2024, 5, 1))


def test_a_sandbox_rollout_is_followed_to_completion(sandbox: Sandbox, kube: Kube) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments"
    kube.create(path, deployment("web", "registry.example/web:1.0.0"))
    status = wait_for(
        "the rollout to complete",
        lambda: (s if (s := rollout.rollout_status(kube.get(f"{path}/web"))).is_complete else None),
    )
    assert status.message == 'deployment "web" successfully rolled out'
    assert status.replicas.available == 3


def test_a_crashing_image_in_the_sandbox_is_diagnosed_as_failing(sandbox: Sandbox, kube: Kube) -> None:
    bad = "registry.example/web:2.0.0"
    sandbox.set_image_behaviour(bad, crash_after=1, exit_code=3, log_lines=["panic: no config"])
    kube.create("/apis/apps/v1/namespaces/default/deployments", deployment("web", bad, replicas=1))

    def failing() -> rollout.Diagnosis | None:
        pods = kube.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")
        events = kube.get("/api/v1/namespaces/default/events")
        verdict = rollout.diagnose(pods, events, now=sandbox.now())
        return verdict if verdict.is_failing else None

    verdict = wait_for("the diagnosis to say failing", failing)
    problem = verdict.problems[0]
    assert problem.fatal and problem.container == "web"
    assert problem.exit_code == 3
    assert problem.restart_count >= 3


def test_the_official_kubernetes_client_objects_are_read_as_they_are(sandbox: Sandbox, kube: Kube) -> None:
    try:
        from kubernetes import client, config  # type: ignore[import-untyped]
    except ImportError:
        missing("the kubernetes package (pip install -r requirements-test.txt)")
    api = client.AppsV1Api(config.new_client_from_config(config_file=sandbox.kubeconfig))
    api.create_namespaced_deployment("default", deployment("api", "registry.example/api:1.0.0"))

    def complete() -> Any:
        model = api.read_namespaced_deployment("api", "default")
        return model if rollout.rollout_status(model).is_complete else None

    model = wait_for("the rollout to complete", complete)
    from_model = rollout.rollout_status(model)
    assert from_model == rollout.rollout_status(model.to_dict())
    assert from_model == rollout.rollout_status(kube.get("/apis/apps/v1/namespaces/default/deployments/api"))
    assert from_model.message == 'deployment "api" successfully rolled out'
    pods = client.CoreV1Api(api.api_client).list_namespaced_pod("default", label_selector="app=api")
    assert rollout.diagnose(pods, now=sandbox.now()).verdict == "healthy"
