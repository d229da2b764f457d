"""rollout.Client: construction, lazily built connections, configuration errors, isolation between
clients, and calls from many threads at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import rollout
from conftest import deployment, ready
from rollout.testing import Sandbox


def test_a_client_keeps_what_it_was_given_and_connects_to_nothing_yet(tmp_path: Path) -> None:
    client = rollout.Client(
        kubeconfig=tmp_path / "missing-kubeconfig",
        context="prod",
        namespace="shop",
        region="eu-west-1",
        profile="ci",
        ecr_endpoint="https://user:hunter2@ecr.internal",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    assert (client.context, client.namespace, client.region, client.profile) == ("prod", "shop", "eu-west-1", "ci")
    assert client.kubeconfig == tmp_path / "missing-kubeconfig"
    assert client.ecr_endpoint == "https://user:hunter2@ecr.internal"
    text = repr(client)
    assert text.startswith("Client(kubeconfig=") and 'region="eu-west-1"' in text
    for secret in ("hunter2", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI"):
        assert secret not in text
    assert rollout.Client().kubeconfig is None


def test_half_given_credentials_are_refused_by_name() -> None:
    with pytest.raises(rollout.InvalidInputError, match='invalid aws_secret_access_key "None": explicit credentials'):
        rollout.Client(aws_access_key_id="AKID")
    with pytest.raises(rollout.InvalidInputError, match='invalid aws_access_key_id "None"'):
        rollout.Client(aws_secret_access_key="secret")
    with pytest.raises(rollout.InvalidInputError, match='invalid aws_access_key_id "None"'):
        rollout.Client(aws_session_token="token")


def test_a_missing_kubeconfig_is_a_config_error_on_the_first_cluster_call(tmp_path: Path) -> None:
    client = rollout.Client(kubeconfig=tmp_path / "nope")
    with pytest.raises(rollout.ConfigError, match=f"cannot load the kubernetes configuration from kubeconfig {tmp_path}"):
        client.status("web")
    broken = tmp_path / "broken"
    broken.write_text("users: [")
    with pytest.raises(rollout.ConfigError):
        rollout.Client(kubeconfig=broken).history("web")


def test_an_unknown_context_or_a_bad_namespace_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(rollout.ConfigError, match='context "nope"'):
        rollout.Client(kubeconfig=sandbox.kubeconfig, context="nope").status("web")
    with pytest.raises(rollout.InvalidInputError, match='invalid namespace "Shop_Prod"'):
        rollout.Client(kubeconfig=sandbox.kubeconfig, namespace="Shop_Prod").status("web")


def test_a_bad_ecr_endpoint_is_refused_by_name_on_the_first_registry_call() -> None:
    client = rollout.Client(region="eu-west-1", ecr_endpoint="127.0.0.1:5000", aws_access_key_id="a", aws_secret_access_key="b")
    with pytest.raises(rollout.InvalidInputError, match='invalid endpoint_url "127.0.0.1:5000"'):
        client.get_lifecycle_policy("app")


NO_AWS = textwrap.dedent(
    """
    import rollout
    for call in (
        lambda: rollout.Client().get_lifecycle_policy("app"),
        # An image check asks the region of the image's registry host, and then needs credentials.
        lambda: rollout.Client().image_exists("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1"),
    ):
        try:
            call()
        except rollout.ConfigError as e:
            print(type(e).__name__, e)
    """
)


def test_a_registry_call_without_a_region_is_a_config_error(tmp_path: Path) -> None:
    # In a child with no AWS configuration at all: no variables, no files, no instance metadata.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    answer = subprocess.run([sys.executable, "-c", NO_AWS], env=env, capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr
    region, credentials = answer.stdout.splitlines()
    assert region.startswith("ConfigError no aws region configured: pass --region"), region
    assert credentials.startswith("ConfigError no usable aws credentials: set AWS_ACCESS_KEY_ID"), credentials


def test_a_request_the_api_server_rejects_is_a_kubernetes_error(client: rollout.Client) -> None:
    manifest = deployment("web", "registry.example/app:1")
    manifest["spec"]["replicas"] = -1
    with pytest.raises(rollout.KubernetesError, match=r"kubernetes API call failed: .*\(HTTP 422\)"):
        client.apply(manifest, skip_preflight="strategy")


def test_cluster_calls_need_no_aws_configuration(sandbox: Sandbox) -> None:
    # Only the kubeconfig: no region, endpoint or credentials, and images outside ECR.
    client = rollout.Client(kubeconfig=sandbox.kubeconfig)
    ready(client, "web", "registry.example/app:1", replicas=1)
    assert client.deploy("web", "registry.example/app:2").outcome == "succeeded"


def test_two_sandboxes_in_one_process_do_not_see_each_other() -> None:
    with Sandbox() as one, Sandbox(ecr_region="eu-west-1", ecr_account="210987654321") as two:
        assert os.environ.get("KUBECONFIG") != one.kubeconfig and "AWS_ENDPOINT_URL_ECR" not in os.environ
        first, second = one.client(), two.client()
        ready(first, "web", "registry.example/app:1", replicas=1)
        with pytest.raises(rollout.NotFoundError):
            second.status("web")
        one.push_image("app", "1.0.0")
        two.push_image("app", "2.0.0")
        assert two.registry == "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
        assert [i.tags for i in one.images("app")] == [["1.0.0"]]
        assert first.image_exists(one.image("app", "1.0.0")) and not first.image_exists(one.image("app", "2.0.0"))
        assert second.image_exists(two.image("app", "2.0.0"))
        assert second.region == "eu-west-1"


def test_several_deploys_at_once_from_threads(client: rollout.Client) -> None:
    names = [f"web-{i}" for i in range(6)]
    for name in names:
        ready(client, name, "registry.example/app:1", replicas=2)
    start = threading.Barrier(len(names))

    def deploy(name: str) -> tuple[str, str, int]:
        start.wait()
        report = client.deploy(name, "registry.example/app:2", timeout=60)
        return (report.target.name, report.outcome, threading.get_ident())

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        results = list(pool.map(deploy, names))
    assert [(n, o) for n, o, _ in results] == [(n, "succeeded") for n in names]
    assert len({t for _, _, t in results}) == len(names), "each deploy ran on its own thread"
    assert {client.status(n).state for n in names} == {"complete"}


def test_threads_share_the_lazily_built_connections(sandbox: Sandbox) -> None:
    client = sandbox.client()
    sandbox.push_image("app", "1.0.0")
    image = sandbox.image("app", "1.0.0")
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: client.image_exists(image), range(32)))
    assert answers == [True] * 32
