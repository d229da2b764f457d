#!/usr/bin/env python3
"""The seed workflow as a deployment script, with rollout.

1. Tag: derive the release tag from the Maven pom (``latest-release-<version>``), never a reused tag.
2. Check that the release image exists in ECR before touching the cluster.
3. Lifecycle: put the seed's lifecycle policy on the repository (keep five ``latest*`` images, two
   untagged), refused if it would expire an image a workload runs or may roll back to.
4. Deploy: set the new image on the Deployment (the first time, apply the seed's manifest instead) and
   wait for the rolling update; when it fails, roll back to the last healthy release.
5. Print the rollout report (JSON, what ``rollout deploy -o json`` prints) on stdout; progress goes to
   stderr.

Run it against your cluster and registry (the kube context, region and credentials come from the usual
places: ``KUBECONFIG``, ``AWS_PROFILE``, ... or the options below)::

    python examples/python/seed_workflow.py --registry 123456789012.dkr.ecr.ap-southeast-2.amazonaws.com \\
        --namespace shop --timeout 10m

Every option can also be set by an environment variable, ``ROLLOUT_SEED_<OPTION>`` (``--registry`` is
``ROLLOUT_SEED_REGISTRY``). ``test_seed_workflow.py`` runs it against ``rollout.testing.Sandbox``.

Exit codes: 0 deployed; 1 the rollout failed (rolled back or not); 2 refused before anything changed
(bad input, image not in ECR, a policy that would expire an image in use); 3 timed out; 4 API, network
or configuration error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

import rollout

HERE = Path(__file__).resolve().parent
SEED = HERE.parent / "seed"
SEED_NAME = "ms-account-management"


def parser() -> argparse.ArgumentParser:
    """The options, each with an environment variable as its default."""

    def env(option: str, default: str | None = None) -> str | None:
        return os.environ.get("ROLLOUT_SEED_" + option.upper().replace("-", "_"), default)

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = p.add_argument
    add("--project", default=env("project", str(SEED)), help="the Maven project whose pom gives the version")
    add("--template", default=env("template", "latest-release-{version}"), help="the tag template")
    add("--tag", default=env("tag"), help="deploy this tag instead of deriving it")
    add("--registry", default=env("registry", "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com"))
    add("--repository", default=env("repository", SEED_NAME), help="the ECR repository")
    add("--deployment", default=env("deployment", SEED_NAME))
    add("--container", default=env("container", SEED_NAME))
    add("--manifest", default=env("manifest", str(SEED / "deployment.yaml")), help="applied on the first release")
    add("--policy", default=env("policy", str(SEED / "lifecycle-policy.json")), help="the lifecycle policy")
    add("--timeout", default=env("timeout", "10m"), help="how long the rollout may take, e.g. 90s, 10m")
    add("--namespace", default=env("namespace"))
    add("--kubeconfig", default=env("kubeconfig"))
    add("--context", default=env("context"))
    add("--region", default=env("region"))
    add("--profile", default=env("profile"))
    add("--ecr-endpoint", default=env("ecr-endpoint"))
    return p


def main(
    argv: list[str] | None = None,
    *,
    client: rollout.Client | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Runs the workflow; returns the exit code. Tests pass their own `client` (and capture `out`/`err`)."""
    args = parser().parse_args(argv)
    if client is None:
        client = rollout.Client(
            kubeconfig=args.kubeconfig,
            context=args.context,
            namespace=args.namespace,
            region=args.region,
            profile=args.profile,
            ecr_endpoint=args.ecr_endpoint,
        )

    def say(line: str) -> None:
        print(line, file=err, flush=True)

    try:
        # 1. The release tag, from the project's version.
        tag = args.tag or rollout.derive_tag(args.project, template=args.template).tag
        image = rollout.ImageRef(f"{args.registry}/{args.repository}").with_tag(tag)
        say(f"release {image}")

        # 2. Never point the cluster at an image the registry does not have.
        if not client.image_exists(image):
            say(f"error: {image} is not in ECR; push it first (nothing was changed)")
            return 2

        # 3. The lifecycle policy, without expiring anything a workload runs or may roll back to.
        policy = rollout.LifecyclePolicy.from_json(Path(args.policy).read_text())
        put = client.put_lifecycle_policy(args.repository, policy, protect_in_use=True)
        say(f"lifecycle policy on {args.repository}: {put.repositories[0].outcome}")

        # 4. The rolling update, rolled back to the last healthy release if it fails.
        def progress(event: rollout.ProgressEvent) -> None:
            say(f"  {event.text}")

        try:
            client.status(args.deployment, namespace=args.namespace)
        except rollout.NotFoundError:
            say(f"{args.deployment} does not exist yet: applying {args.manifest}")
            applied = client.apply(
                Path(args.manifest),
                containers={args.container: image},
                namespace=args.namespace,
                timeout=args.timeout,
                rollback_on_failure=True,
                on_progress=progress,
            )
            report = applied.rollouts.reports[0]
        else:
            report = client.deploy(
                args.deployment,
                containers={args.container: image},
                namespace=args.namespace,
                timeout=args.timeout,
                rollback_on_failure=True,
                on_progress=progress,
            )
    except (rollout.RolloutFailedError, rollout.RolloutTimeoutError) as failure:
        # 5. The report says why (pod problems, events, log tails) and how the rollback went.
        if failure.report is not None:
            print(failure.report.to_json(indent=2), file=out)
        say(f"error: {failure}")
        return 3 if isinstance(failure, rollout.RolloutTimeoutError) else 1
    except (rollout.InvalidInputError, rollout.NotFoundError) as refused:
        say(f"error: {refused}")
        return 2
    except OSError as unreadable:
        say(f"error: {unreadable}")
        return 2
    except rollout.RolloutError as broken:
        say(f"error: {broken}")
        return 4
    # 5. The report of a release that went out.
    print(report.to_json(indent=2), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
