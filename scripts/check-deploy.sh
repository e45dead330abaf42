#!/usr/bin/env bash
# Static checks of everything that deploys Weasel, none of which can run
# here (no Docker, no AWS, no cluster): the Dockerfile (hadolint, checkov),
# the Kubernetes manifests (kubectl kustomize renders every overlay,
# kubernetes-validate checks every object against the pinned Kubernetes
# version, checkov), Terraform (every file parses, terraform-fmt layout,
# checkov), the CI definitions (yamllint; the Jenkinsfile has the workflow's
# stages in the same order). Any failure fails the script.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# The Kubernetes version EKS runs (terraform/envs/*: kubernetes_version).
KUBERNETES_VERSION=1.35.0
venv="$VENV/bin"
[ -x "$venv/checkov" ] || die "missing the deployment checkers: run scripts/setup.sh --test"
checkov() { "$venv/checkov" --quiet --compact --skip-download "$@"; }
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT

step "Dockerfile: hadolint, checkov"
"$venv/hadolint" Dockerfile
checkov --framework dockerfile -f Dockerfile

step "Kubernetes: kustomize, kubernetes-validate $KUBERNETES_VERSION, checkov"
for dir in overlays/dev overlays/prod cluster; do
  out="$rendered/${dir//\//-}.yaml"
  "$KUBECTL" kustomize "k8s/$dir" > "$out"
  note "k8s/$dir: $(grep -c '^kind:' "$out") objects"
done
# Objects of custom resources (ExternalSecret, ServiceMonitor, PrometheusRule,
# NodePool, EC2NodeClass, Application) have no schema in kubernetes-validate:
# it names them as warnings, and checkov still reads them.
"$venv/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" "$rendered"/*.yaml
for file in "$rendered"/*.yaml; do checkov --framework kubernetes -f "$file"; done

step "Terraform: python-hcl2, terraform fmt layout, checkov"
"$venv/python" "$ROOT/scripts/check_terraform.py" terraform
# The real formatter where it is installed (the project's machine image has
# it); `init`/`validate` need providers from the network, so they are not run.
if command -v terraform >/dev/null 2>&1; then
  export TF_CLI_CONFIG_FILE=/dev/null # no ~/.terraformrc needed, none read
  terraform fmt -check -recursive -diff terraform || die "terraform fmt: run 'terraform fmt -recursive terraform'"
  echo "    terraform fmt -check: $(terraform version | head -1)"
else
  echo "    terraform not installed: its fmt check is left to python-hcl2 and check_terraform.py"
fi
checkov --framework terraform -d terraform

step "CI/CD: yamllint, Jenkinsfile stages"
"$venv/yamllint" --strict .github k8s
"$venv/python" - <<'PY'
import re, sys, yaml
workflow = yaml.safe_load(open(".github/workflows/ci.yml"))
jobs = [job["name"] for job in workflow["jobs"].values()]
stages = re.findall(r"stage\('([^']+)'\)", open("Jenkinsfile").read())
if jobs != stages:
    sys.exit(f"Jenkinsfile stages {stages} differ from the workflow's jobs {jobs}")
print(f"    stages in both: {' -> '.join(stages)}")
PY
