#!/bin/bash
# Deployment files, checked offline: the kustomize build of docker/k8s, the
# evaluate Job, the example ingress and docker/compose.yaml against the
# Kubernetes API schemas (kubernetes-models), strict field names
# (kubernetes-types + tsc) and the deployment policy (tests/deploy/
# validate.mjs); then broken copies that each must be refused.
# npm packages are pinned in tests/deploy/package-lock.json and installed
# with `npm ci` on first use.  SPDX-License-Identifier: MIT
cd "$(dirname "$0")/../.." || exit 1
OUT=tests/out/deploy
rm -rf "$OUT" && mkdir -p "$OUT"
fails=0
ok() { echo "ok   $1"; }
no() { echo "FAIL $1"; fails=$((fails + 1)); }

command -v node >/dev/null && command -v npm >/dev/null ||
  SEGSCORE_DEPS_EXTRA="nodejs npm" scripts/install-deps >&2
command -v node >/dev/null && command -v npm >/dev/null || { echo "deploy: node and npm are needed"; exit 1; }
if [ ! -f tests/deploy/node_modules/.package-lock.json ] ||
   [ tests/deploy/package-lock.json -nt tests/deploy/node_modules/.package-lock.json ]; then
  (cd tests/deploy && npm ci --no-audit --no-fund --loglevel=error) >"$OUT/npm.log" 2>&1 ||
    { cat "$OUT/npm.log"; echo "deploy: npm ci failed"; exit 1; }
fi
V="node tests/deploy/validate.mjs"

# kustomize: standalone, else kubectl's built-in one (kubectl >= 1.21 has
# kustomize v4+).  Without either, the base files are validated as they are
# (Debian 12's kubectl 1.20 embeds kustomize v2, too old for these files).
KUSTOMIZE=()
if command -v kustomize >/dev/null; then
  KUSTOMIZE=(kustomize build)
elif command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1 &&
     ! kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v[23]\.'; then
  KUSTOMIZE=(kubectl kustomize)
fi
if [ ${#KUSTOMIZE[@]} -eq 0 ]; then
  echo "skip kustomize build: no kustomize >= 4 (validating docker/k8s/base/*.yaml directly)"
  for f in docker/k8s/base/*.yaml; do
    [ "${f##*/}" = kustomization.yaml ] || { cat "$f"; echo "---"; }
  done >"$OUT/k8s.yaml"
elif "${KUSTOMIZE[@]}" docker/k8s >"$OUT/k8s.yaml" 2>"$OUT/kustomize.err"; then
  ok "kustomize build docker/k8s ($(grep -c '^kind:' "$OUT/k8s.yaml") objects)"
  grep -q 'image: registry.example/segscore:0.1.0' "$OUT/k8s.yaml" && ok "kustomize sets the image" ||
    no "kustomize sets the image"
  if "${KUSTOMIZE[@]}" docker/k8s/overlays/tokens >"$OUT/k8s-tokens.yaml" 2>"$OUT/kustomize-tokens.err"; then
    ok "kustomize build docker/k8s/overlays/tokens"
    grep -q 'SEGSCORE_TOKEN_FILE' "$OUT/k8s-tokens.yaml" && grep -q '^kind: Secret$' "$OUT/k8s-tokens.yaml" &&
      ok "tokens overlay mounts a Secret as SEGSCORE_TOKEN_FILE" || no "tokens overlay mounts a Secret"
    $V "$OUT/k8s-tokens.yaml" >"$OUT/valid-tokens.log" 2>&1 && ok "tokens overlay: $(tail -1 "$OUT/valid-tokens.log")" ||
      { cat "$OUT/valid-tokens.log"; no "tokens overlay valid"; }
  else
    cat "$OUT/kustomize-tokens.err"; no "kustomize build docker/k8s/overlays/tokens"
  fi
else
  cat "$OUT/kustomize.err"; no "kustomize build docker/k8s"
fi
for kind in Deployment Service HorizontalPodAutoscaler PodDisruptionBudget; do
  grep -q "^kind: $kind\$" "$OUT/k8s.yaml" && ok "docker/k8s has a $kind" || no "docker/k8s lacks a $kind"
done

FILES=(docker/k8s/evaluate-job.yaml docker/k8s/ingress-example.yaml)
if $V "$OUT/k8s.yaml" "${FILES[@]}" --compose docker/compose.yaml >"$OUT/valid.log" 2>&1; then
  ok "$(tail -1 "$OUT/valid.log")"
else
  cat "$OUT/valid.log"; no "manifests valid"
fi

# Each broken copy must be refused: NAME SED-EXPRESSION [FILE]; only the
# unknown-field case needs the (slow) tsc layer.
refuse() {
  local name=$1 expr=$2 file=${3:-$OUT/k8s.yaml} fields=--no-fields
  [ "$name" = unknown-field ] && fields=
  sed -e "$expr" "$file" >"$OUT/bad-$name.yaml"
  if cmp -s "$file" "$OUT/bad-$name.yaml"; then
    no "refuses $name (the edit changed nothing)"
  elif $V --expect-fail $fields "$OUT/bad-$name.yaml" >"$OUT/bad-$name.log" 2>&1; then
    ok "refuses $name: $(grep -v '^validate:' "$OUT/bad-$name.log" | head -1 | cut -c1-110)"
  else
    cat "$OUT/bad-$name.log"; no "refuses $name"
  fi
}
refuse unknown-field 's/timeoutSeconds: 5/timeoutSecond: 5/'
refuse wrong-type 's/^  replicas: 2/  replicas: two/'
refuse bad-quantity '0,/cpu: "2"/s//cpu: two cores/'
refuse missing-required '/containerPort: 8080/d'
refuse bad-enum 's/type: RuntimeDefault/type: Sometimes/'
refuse unknown-kind 's/^kind: PodDisruptionBudget/kind: PodDisruptionBudgets/'
refuse root-user 's/runAsUser: 10001/runAsUser: 0/'
refuse writable-root 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/'
refuse cpu-request-below-limit '0,/cpu: "2"/s//cpu: "1"/'
refuse short-grace 's/terminationGracePeriodSeconds: 130/terminationGracePeriodSeconds: 60/'
refuse readiness-on-healthz '/readinessProbe:/,/path:/s#path: /readyz#path: /healthz#'
refuse unsharded-job 's#"\$(JOB_COMPLETION_INDEX)/4"#"0/4"#' docker/k8s/evaluate-job.yaml
sed -e 's/read_only: true/read_only: false/' docker/compose.yaml >"$OUT/bad-compose.yaml"
$V --expect-fail --no-fields --compose "$OUT/bad-compose.yaml" >"$OUT/bad-compose.log" 2>&1 &&
  ok "refuses a compose file with a writable root" || no "refuses a compose file with a writable root"
sed -e 's/read_only: true/readonly: true/' docker/compose.yaml >"$OUT/bad-compose2.yaml"
$V --expect-fail --no-fields --compose "$OUT/bad-compose2.yaml" >"$OUT/bad-compose2.log" 2>&1 &&
  ok "refuses a compose file with an unknown key" || no "refuses a compose file with an unknown key"

[ "$fails" -eq 0 ]
