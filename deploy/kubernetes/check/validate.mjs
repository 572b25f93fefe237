// Validates deploy/kubernetes offline: every object in base/ against the Kubernetes API
// schemas of the npm package kubernetes-models (no cluster), then what the schemas let
// through but this deployment relies on: the broker is a native sidecar with startup and
// readiness probes running `skybroker health`, the credentials Secret is mounted into the
// broker only, each container drops all capabilities, has a read-only root and its own uid,
// and no field is unknown to the API (the schemas accept unknown fields: the check walks the
// object against the field names of kubernetes-models' type declarations).
//
// usage: node validate.mjs FILE.yaml...   (the sources, or what `kubectl kustomize` renders)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";

const here = path.dirname(fileURLToPath(import.meta.url));
let failed = 0;
const fail = (f, msg) => { console.error(`validate: ${f}: ${msg}`); failed++; };

// Field names of a type, from the interface in its .d.ts file ("name"?: IType;), and for each
// the .d.ts file of its type (or of its array's items), so nested objects can be walked.
const fieldsCache = new Map();
function resolveDts(from, spec) {
  const base = spec.startsWith(".") ? path.resolve(path.dirname(from), spec)
    : path.join(here, "node_modules", spec);
  return base.replace(/\.js$/, "") + ".d.ts";
}
function fieldsOf(file) {
  if (fieldsCache.has(file)) return fieldsCache.get(file);
  const fields = new Map();
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, "utf8");
    const imports = new Map();
    for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g))
      imports.set(m[1], resolveDts(file, m[2]));
    const body = (text.match(/export interface \w+[^{]*\{([\s\S]*?)\n\}/) || [])[1] || "";
    for (const m of body.matchAll(/^ {4}"([\w$-]+)"\??: ([^;]+);/gm)) {
      const ref = (m[2].match(/^(?:Array<)?(\w+)>?$/) || [])[1];
      fields.set(m[1], imports.get(ref) || null);
    }
  }
  fieldsCache.set(file, fields);
  return fields;
}
function unknownFields(f, obj, file, where) {
  const fields = fieldsOf(file);
  if (fields.size === 0 || obj === null || typeof obj !== "object") return;
  for (const [k, v] of Object.entries(obj)) {
    if (!fields.has(k)) { fail(f, `unknown field ${where}.${k}`); continue; }
    const sub = fields.get(k);
    if (!sub) continue;
    for (const [i, item] of (Array.isArray(v) ? v.entries() : [[null, v]]))
      unknownFields(f, item, sub, i === null ? `${where}.${k}` : `${where}.${k}[${i}]`);
  }
}

function checkDeployment(f, obj) {
  const d = new Deployment(obj);
  try { d.validate(); } catch (e) { fail(f, `schema: ${e.message}`); }
  unknownFields(f, obj, path.join(here, "node_modules/kubernetes-models/apps/v1/Deployment.d.ts"), "Deployment");
  const spec = obj.spec.template.spec;
  const broker = (spec.initContainers || []).find((c) => c.name === "skybroker");
  if (!broker) return fail(f, "no skybroker initContainer");
  if (broker.restartPolicy !== "Always") fail(f, "skybroker is not a native sidecar");
  for (const p of ["startupProbe", "readinessProbe"])
    if (!broker[p]?.exec?.command?.slice(0, 2).join(" ").match(/^skybroker health$/))
      fail(f, `skybroker's ${p} does not run skybroker health`);
  const secretVols = spec.volumes.filter((v) => v.secret).map((v) => v.name);
  const uids = new Set();
  for (const c of [...(spec.initContainers || []), ...spec.containers]) {
    const sc = c.securityContext || {};
    if (!(sc.capabilities?.drop || []).includes("ALL")) fail(f, `${c.name}: capabilities not all dropped`);
    if (sc.readOnlyRootFilesystem !== true) fail(f, `${c.name}: root file system not read-only`);
    if (sc.allowPrivilegeEscalation !== false) fail(f, `${c.name}: privilege escalation allowed`);
    if (!c.resources?.limits || !c.resources?.requests) fail(f, `${c.name}: no requests/limits`);
    if (uids.has(sc.runAsUser)) fail(f, `${c.name}: shares uid ${sc.runAsUser}`);
    uids.add(sc.runAsUser);
    if (c !== broker && (c.volumeMounts || []).some((m) => secretVols.includes(m.name)))
      fail(f, `${c.name}: the credentials Secret is mounted outside the broker`);
  }
  if (spec.securityContext?.seccompProfile?.type !== "RuntimeDefault") fail(f, "seccompProfile not RuntimeDefault");
}

for (const f of process.argv.slice(2)) {
  for (const obj of yaml.loadAll(fs.readFileSync(f, "utf8"))) {
    if (!obj) continue;
    if (obj.kind === "Deployment") checkDeployment(f, obj);
    else if (obj.kind === "ConfigMap") { // kustomize's output (kubectl kustomize overlays/ctx)
      try { new ConfigMap(obj).validate(); } catch (e) { fail(f, `schema: ${e.message}`); }
      unknownFields(f, obj, path.join(here, "node_modules/kubernetes-models/v1/ConfigMap.d.ts"), "ConfigMap");
    } else if (obj.kind !== "Kustomization") fail(f, `unexpected kind ${obj.kind}`);
  }
}
if (failed) process.exit(1);
console.log(`validate: ${process.argv.length - 2} file(s) valid`);
