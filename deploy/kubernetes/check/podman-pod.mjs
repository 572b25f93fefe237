// Derives a Pod that podman 4.3's `kube play` can run from the real Deployment, which stays
// untouched. podman refuses probes on init containers and ignores restartPolicy: Always on
// them (the pod then waits for the sidecar to exit), so the sidecar becomes the first
// ordinary container, without probes (the test runs `skybroker health` itself). Volumes
// become host directories the test prepares: the emptyDir (podman's own would be root's
// 0755, unwritable for uid 10001; the test makes it 0777 like the kubelet), the ConfigMap and
// the Secret (laid out as the kubelet does, ..data link and all, so rotation is the real
// swap). hostNetwork, so the broker reaches the test's emulator on 127.0.0.1. A third
// container, under a uid no tenant admits, plays the intruder.
//
// usage: node podman-pod.mjs DEPLOYMENT.yaml OUT.yaml SOCKETDIR CONFDIR SECRETDIR TLSDIR
//        NOTIFYDIR   (the broker gets NOTIFY_SOCKET=/run/skybroker-notify/notify.sock there)
import fs from "node:fs";
import yaml from "js-yaml";

const [src, out, socketDir, confDir, secretDir, tlsDir, notifyDir] = process.argv.slice(2);
const notify = "/run/skybroker-notify/notify.sock";
const dep = yaml.load(fs.readFileSync(src, "utf8"));
const spec = structuredClone(dep.spec.template.spec);

const sidecar = spec.initContainers.find((c) => c.restartPolicy === "Always");
if (!sidecar) throw new Error("no native sidecar (initContainer with restartPolicy: Always)");
delete sidecar.restartPolicy;
delete sidecar.startupProbe;
delete sidecar.readinessProbe;
delete sidecar.livenessProbe;
sidecar.env = [...(sidecar.env || []), { name: "NOTIFY_SOCKET", value: notify },
  { name: "WATCHDOG_USEC", value: "2000000" }];
sidecar.volumeMounts.push({ name: "test-tls", mountPath: "/etc/skybroker-test-tls", readOnly: true },
  { name: "test-notify", mountPath: "/run/skybroker-notify" });
spec.initContainers = spec.initContainers.filter((c) => c !== sidecar);
if (spec.initContainers.length === 0) delete spec.initContainers;

const mcp = spec.containers[0];
const intruder = structuredClone(mcp);
intruder.name = "intruder";
intruder.args = ["sleep 600"];
intruder.securityContext.runAsUser = 10003;
intruder.securityContext.runAsGroup = 10003;
mcp.args = ["sleep 600"];
spec.containers = [sidecar, mcp, intruder];

const host = (path) => ({ hostPath: { path, type: "Directory" } });
spec.volumes = spec.volumes.map((v) => {
  if (v.emptyDir) return { name: v.name, ...host(socketDir) };
  if (v.configMap) return { name: v.name, ...host(confDir) };
  if (v.secret) return { name: v.name, ...host(secretDir) };
  throw new Error(`volume ${v.name}: not derived`);
});
spec.volumes.push({ name: "test-tls", ...host(tlsDir) },
  { name: "test-notify", ...host(notifyDir) });
spec.hostNetwork = true;
spec.restartPolicy = "Never";

const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "skybroker-test" }, spec };
fs.writeFileSync(out, yaml.dump(pod));
