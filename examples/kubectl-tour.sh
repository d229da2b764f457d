#!/usr/bin/env bash
# The seed workflow with plain kubectl against the sandbox: apply the Deployment, roll it to a new
# release tag, watch the rolling update, look at the history, undo, and show the cluster.
# Run through `rollout sandbox`, which sets KUBECONFIG and pushes the two release images into its
# registry (pulls of images under the sandbox's ECR host succeed only for pushed tags):
#   cargo run -q -p rollout-cli -- sandbox --time-scale 0.01 \
#     --push ms-account-management:latest-release-1.0.0 --push ms-account-management:latest-release-1.0.1 \
#     -- examples/kubectl-tour.sh
set -euo pipefail
cd "$(dirname "$0")"
command -v kubectl >/dev/null || { echo "kubectl is not installed: https://kubernetes.io/docs/tasks/tools/" >&2; exit 127; }
: "${KUBECONFIG:?run this through: rollout sandbox -- examples/kubectl-tour.sh}"

repo=123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

say kubectl apply -f seed/deployment.yaml
say kubectl rollout status deployment/ms-account-management --timeout=120s
say kubectl set image deployment/ms-account-management "ms-account-management=$repo:latest-release-1.0.1"
say kubectl rollout status deployment/ms-account-management --timeout=120s
say kubectl rollout history deployment/ms-account-management
say kubectl rollout undo deployment/ms-account-management
say kubectl rollout status deployment/ms-account-management --timeout=120s
say kubectl get deployments,replicasets,pods -o wide
say kubectl get events --field-selector involvedObject.kind=Deployment
