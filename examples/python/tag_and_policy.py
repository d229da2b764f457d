#!/usr/bin/env python3
"""The seed workflow's tag and lifecycle steps, from Python.

1. Derive the release tag from the Maven pom (latest-release-1.0.0), as `rollout tag` does.
2. Build the ECR lifecycle policy the seed keeps on every repository (five `latest*` images, two untagged),
   check it equals the seed's policy file whatever the rule order, and preview what it would expire.
3. Pick the tag to roll back to, the way the seed's `aws ecr describe-images` query meant to.

Run from the repository root after `maturin develop` (see the README):

    python examples/python/tag_and_policy.py [PROJECT_DIR]

The images here are made up; with boto3, pass `ecr.describe_images(repositoryName=...)["imageDetails"]`
instead (all pages): rollout reads ECR's field names as they are.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import rollout

REPO = Path(__file__).resolve().parents[2]
REGISTRY = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com"


def main() -> int:
    project = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "examples" / "seed"

    # 1. The tag, from the project's version.
    derived = rollout.derive_tag(project, template="latest-release-{version}")
    for warning in derived.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    image = rollout.ImageRef(f"{REGISTRY}/ms-account-management").with_tag(derived.tag)
    print(f"tag: {derived.tag} (from {derived.version.source} version {derived.version.version})")
    print(f"image: {image} (account {image.ecr_account}, region {image.ecr_region})")

    # 2. The lifecycle policy, built and checked against the seed's JSON file.
    policy = (
        rollout.LifecyclePolicy.builder()
        .keep_most_recent_tagged(5, ["latest"])
        .keep_most_recent_untagged(2)
        .build()
    )
    seed_file = REPO / "examples" / "seed" / "lifecycle-policy.json"
    same = policy == rollout.LifecyclePolicy.from_json(seed_file.read_text())
    print(f"policy equals {seed_file.name}: {same}")

    now = datetime.now(timezone.utc)
    images = [
        rollout.ImageRecord(f"sha256:{i:064x}", [f"latest-release-1.{i}.0"], now - timedelta(days=30 - i))
        for i in range(8)
    ] + [rollout.ImageRecord(f"sha256:{100 + i:064x}", [], now - timedelta(days=10 - i)) for i in range(4)]
    preview = policy.preview(images, now=now)
    summary = preview.summary
    print(f"preview: {summary.expiring} of {summary.images} images would expire, {summary.kept} kept")
    for verdict in preview.acted_on:
        what = ", ".join(verdict.tags) or f"untagged …{verdict.digest[-8:]}"
        print(f"  expire {what} (rule {verdict.rule_priority}: {verdict.reason['kind']})")

    # Never expire what runs: the current release and the one a rollback would need.
    in_use = [str(image.with_tag("latest-release-1.7.0")), str(image.with_tag("latest-release-1.2.0"))]
    for violation in policy.protect(images, in_use, now=now):
        print(f"  in use but would expire: {violation.reference}")

    # 3. The release to roll back to: the newest `latest-release-` image pushed before the current one.
    previous = rollout.previous_tag(images, "before", before="latest-release-1.7.0", tag_prefix="latest-release-")
    print(f"rollback to: {previous.tag}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except rollout.RolloutError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2 if isinstance(error, ValueError) else 1)
