"""The registry side of Client: lifecycle policies put, read, compared and previewed in the sandbox's ECR,
with in-use protection; the ECR-backed previous tag; image checks; the in-use scan. Where the CLI has
the same command, the report's to_dict() is compared with its `-o json` output."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import rollout
from conftest import REPO, ready, run_cli
from rollout.testing import Sandbox

SEED_POLICY = (REPO / "examples" / "seed" / "lifecycle-policy.json").read_text()
NOW = datetime.now(timezone.utc)


def seed_policy() -> rollout.LifecyclePolicy:
    return rollout.LifecyclePolicy.builder().keep_most_recent_tagged(5, ["latest"]).keep_most_recent_untagged(2).build()


def releases(sandbox: Sandbox, repository: str, count: int = 7, untagged: int = 3) -> list[str]:
    """`count` releases latest-release-1.0.<i> pushed a day apart (oldest first) and `untagged` untagged
    images; returns the releases' tags."""
    tags = [f"latest-release-1.0.{i}" for i in range(count)]
    for i, tag in enumerate(tags):
        sandbox.push_image(repository, tag, pushed_at=NOW - timedelta(days=30 - i))
    for i in range(untagged):
        sandbox.push_image(repository, pushed_at=NOW - timedelta(days=10 - i))
    return tags


def test_put_get_diff_preview_and_run_a_policy(sandbox: Sandbox, client: rollout.Client) -> None:
    releases(sandbox, "app")
    report = client.put_lifecycle_policy("app", SEED_POLICY)
    assert isinstance(report, rollout.PutReport)
    assert (report.put, report.unchanged, report.failed, report.succeeded) == (1, 0, 0, True)
    line = report.repositories[0]
    assert (line.repository, line.outcome, line.reason, line.in_use) == ("app", "put", None, [])
    assert line.preview is not None and (line.preview.images, line.preview.expiring) == (10, 3)

    again = client.put_lifecycle_policy(["app"], rollout.LifecyclePolicy.from_json(SEED_POLICY))
    assert (again.put, again.unchanged) == (0, 1)
    # The builder's policy does the same but its rule descriptions differ, so it is put.
    assert client.put_lifecycle_policy("app", seed_policy()).put == 1

    assert client.get_lifecycle_policy("app") == seed_policy()
    assert client.diff_lifecycle_policy("app", seed_policy()).equal
    described = client.diff_lifecycle_policy("app", json.loads(SEED_POLICY))
    assert (described.equal, described.same_effect) == (False, True)
    other = rollout.LifecyclePolicy.builder().keep_most_recent_tagged(3, ["latest"]).build()
    diff = client.diff_lifecycle_policy("app", other)
    assert not diff.equal and diff.current_exists

    preview = client.preview_lifecycle_policy("app", seed_policy(), now=NOW)
    assert preview.summary.expiring == 3 and preview.evaluated_at == NOW.replace(microsecond=NOW.microsecond)
    expiring = sorted(tuple(v.tags) for v in preview.acted_on)
    assert expiring == [(), ("latest-release-1.0.0",), ("latest-release-1.0.1",)]

    # The sandbox's ECR runs the policy as ECR's periodic pass would, and agrees with the preview.
    done = sandbox.run_lifecycle("app")
    assert sorted(tuple(d["tags"]) for d in done) == expiring
    assert {d["action"] for d in done} == {"expire"}
    assert len(sandbox.images("app")) == 7


def test_a_repository_without_a_policy_or_that_does_not_exist(sandbox: Sandbox, client: rollout.Client) -> None:
    sandbox.create_repository("empty")
    assert client.get_lifecycle_policy("empty") is None
    assert not client.diff_lifecycle_policy("empty", seed_policy()).current_exists
    for call in (
        lambda: client.get_lifecycle_policy("nope"),
        lambda: client.preview_lifecycle_policy("nope", seed_policy()),
        lambda: client.diff_lifecycle_policy("nope", seed_policy()),
    ):
        with pytest.raises(rollout.NotFoundError, match='ecr repository "nope" not found'):
            call()
    # A put goes ahead for the repositories it can reach and reports the others.
    report = client.put_lifecycle_policy(["empty", "nope"], seed_policy())
    assert (report.put, report.failed, report.succeeded) == (1, 1, False)
    assert report.repositories[1].outcome == "failed"
    assert 'ecr repository "nope" not found' in (report.repositories[1].reason or "")


def test_bad_policies_and_repositories_are_refused(client: rollout.Client) -> None:
    with pytest.raises(rollout.InvalidInputError, match="invalid lifecycle policy") as caught:
        client.put_lifecycle_policy("app", {"rules": [{"rulePriority": 0, "selection": {}, "action": {}}]})
    assert caught.value.violations
    with pytest.raises(rollout.InvalidInputError, match="not valid JSON"):
        client.put_lifecycle_policy("app", "{")
    with pytest.raises(TypeError, match="policy must be a LifecyclePolicy"):
        client.put_lifecycle_policy("app", 5)  # type: ignore[arg-type]
    with pytest.raises(rollout.InvalidInputError, match='invalid repository name "Bad Name"'):
        client.get_lifecycle_policy("Bad Name")
    with pytest.raises(rollout.InvalidInputError, match='invalid repositories ""'):
        client.put_lifecycle_policy([], seed_policy())
    with pytest.raises(rollout.InvalidInputError, match="pass protect_in_use=True too"):
        client.put_lifecycle_policy("app", seed_policy(), namespaces=["default"])


def test_a_policy_that_would_expire_an_image_in_use_is_refused_unless_forced(
    sandbox: Sandbox, client: rollout.Client
) -> None:
    tags = releases(sandbox, "app")
    oldest = sandbox.image("app", tags[0])
    with pytest.raises(rollout.InvalidInputError, match=r"would act on 1 image in use: app: .*given by the caller"):
        client.put_lifecycle_policy("app", seed_policy(), in_use=[oldest])
    assert client.get_lifecycle_policy("app") is None, "nothing was written"
    report = client.put_lifecycle_policy(
        "app", seed_policy(), in_use=[{"reference": oldest, "used_by": "the release script"}], force=True
    )
    assert report.put == 1
    assert [(v.reference, v.used_by) for v in report.repositories[0].in_use] == [(oldest, "the release script")]


def test_protect_in_use_scans_the_cluster(sandbox: Sandbox, client: rollout.Client) -> None:
    tags = releases(sandbox, "app")
    oldest = sandbox.image("app", tags[0])
    ready(client, "web", oldest, replicas=1)
    used = client.images_in_use()
    assert all(isinstance(u, rollout.InUseImage) for u in used)
    assert {u.used_by.split(" ")[0] for u in used if u.reference == oldest} >= {"default/deployment/web"}
    assert any(u.digest for u in used if u.used_by.startswith("default/pod/")), "pods carry the digest they run"
    assert client.images_in_use("default") == client.images_in_use(["default"])
    assert client.images_in_use(namespaces=["kube-system"]) == []
    with pytest.raises(rollout.InvalidInputError, match="name at least one namespace"):
        client.images_in_use([])

    with pytest.raises(rollout.InvalidInputError, match="default/deployment/web"):
        client.put_lifecycle_policy("app", seed_policy(), protect_in_use=True)
    with pytest.raises(rollout.InvalidInputError, match="default/deployment/web"):
        client.put_lifecycle_policy("app", seed_policy(), protect_in_use=True, namespaces="default")
    # The scanned list can be passed as it is, too.
    with pytest.raises(rollout.InvalidInputError, match="in use"):
        client.put_lifecycle_policy("app", seed_policy(), in_use=used)
    # Nothing in another namespace uses the image.
    assert client.put_lifecycle_policy("app", seed_policy(), protect_in_use=True, namespaces=["other"]).put == 1


def test_previous_tag_from_ecr(sandbox: Sandbox, client: rollout.Client) -> None:
    tags = releases(sandbox, "app", count=4, untagged=1)
    found = client.previous_tag("app")
    assert isinstance(found, rollout.PreviousTag)
    assert (found.tag, found.considered) == (tags[-2], 4)
    assert client.previous_tag("app", "before", before=tags[2]).tag == tags[1]
    assert client.previous_tag("app", "semver", tag_prefix="latest-release-").tag == tags[-2]
    with pytest.raises(rollout.NotFoundError, match='ecr repository "nope" not found'):
        client.previous_tag("nope")
    with pytest.raises(rollout.InvalidInputError, match='invalid strategy "newest": allowed: pushed, before'):
        client.previous_tag("app", "newest")  # type: ignore[call-overload]
    with pytest.raises(rollout.InvalidInputError, match='invalid repository "None": name the ECR repository'):
        client.previous_tag()  # type: ignore[call-overload]
    with pytest.raises(rollout.NotFoundError, match="no image carries tag"):
        client.previous_tag("app", "before", before="9.9.9")


def test_image_exists(sandbox: Sandbox, client: rollout.Client) -> None:
    sandbox.push_image("app", "1.0.0")
    assert client.image_exists(sandbox.image("app", "1.0.0"))
    assert client.image_exists(rollout.ImageRef(sandbox.image("app", "1.0.0")))
    assert not client.image_exists(sandbox.image("app", "2.0.0"))
    with pytest.raises(rollout.NotFoundError, match='ecr repository "nope" not found'):
        client.image_exists(sandbox.image("nope", "1"))
    with pytest.raises(rollout.InvalidInputError, match='invalid image "registry.example/app:1": only images in an ECR'):
        client.image_exists("registry.example/app:1")
    with pytest.raises(rollout.InvalidInputError, match='^invalid image "not an image": '):
        client.image_exists("not an image")


def test_ecr_throttling_beyond_the_retries_is_an_ecr_error(sandbox: Sandbox, client: rollout.Client) -> None:
    sandbox.create_repository("app")
    with sandbox.faults.injected(ecr_throttle_probability=1.0):
        with pytest.raises(rollout.EcrError, match='ecr DescribeImages failed for repository "app".*Throttling'):
            client.previous_tag("app")


# --- the reports are the CLI's JSON -----------------------------------------------------------------------


def test_put_report_to_dict_is_what_rollout_lifecycle_put_prints(sandbox: Sandbox, client: rollout.Client, cli: Path, tmp_path: Path) -> None:
    # Two repositories with the same images: one put by the CLI, one by the client.
    for repository in ("by-cli", "by-python"):
        for i in range(7):
            sandbox.push_image(repository, f"latest-release-1.0.{i}", pushed_at=NOW - timedelta(days=30 - i))
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(SEED_POLICY)
    theirs = run_cli(cli, sandbox, "lifecycle", "put", "-r", "by-cli", "--policy-file", str(policy_file))
    ours = client.put_lifecycle_policy("by-python", SEED_POLICY).to_dict()
    assert isinstance(theirs, dict)
    theirs["repositories"][0]["repository"] = "by-python"
    assert ours == theirs


def test_previous_tag_to_dict_is_what_rollout_previous_prints(sandbox: Sandbox, client: rollout.Client, cli: Path) -> None:
    releases(sandbox, "app", count=4, untagged=1)
    assert client.previous_tag("app").to_dict() == run_cli(cli, sandbox, "previous", "-r", "app")
    before = ["previous", "-r", "app", "--strategy", "before", "--before", "latest-release-1.0.2"]
    assert client.previous_tag("app", "before", before="latest-release-1.0.2").to_dict() == run_cli(cli, sandbox, *before)
