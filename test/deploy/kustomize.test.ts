import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as core from 'kubernetes-models/v1';
import { parse } from 'yaml';
import { kustomize, PKG, ROOT, run, type K8sObject } from './support.js';

// Every overlay under deploy/kubernetes/overlays, with what it must contain. A new overlay fails
// the first test until it is described here.
interface Expect {
  /** The shipped config the overlay's ConfigMap must be a verbatim copy of. */
  config: string;
  workloads: string[];
  /** Capabilities added per container (every container drops ALL; none adds any unless listed). */
  caps?: Record<string, string[]>;
  /** Containers that run as root (uid 0): each is listed with its reason in the overlay. */
  root?: string[];
  /** Containers allowed to gain privileges on exec (file capabilities). */
  escalation?: string[];
  hostNetwork?: boolean;
  gateway?: boolean;
  identity?: 'eks' | 'gke' | 'aks';
}

const OVERLAYS: Record<string, Expect> = {
  gateway: { config: 'configs/redis.yaml', workloads: ['Deployment/rrpipe'], gateway: true },
  'daemonset-nettap': {
    config: 'configs/daemonset.yaml',
    workloads: ['DaemonSet/rrpipe'],
    caps: { rrpipe: ['NET_RAW', 'NET_ADMIN'], 'data-dir': ['CHOWN'] },
    root: ['data-dir'],
    escalation: ['rrpipe'],
    hostNetwork: true,
  },
  'rehydrate-job': { config: 'configs/replay-snapshot.yaml', workloads: ['Job/rrpipe-rehydrate', 'CronJob/rrpipe-snapshot'] },
  eks: { config: 'configs/aws.yaml', workloads: ['Deployment/rrpipe'], gateway: true, identity: 'eks' },
  gke: { config: 'configs/gcp.yaml', workloads: ['Deployment/rrpipe'], gateway: true, identity: 'gke' },
  aks: { config: 'configs/azure.yaml', workloads: ['Deployment/rrpipe'], gateway: true, identity: 'aks' },
};
const K8S = join(ROOT, 'deploy/kubernetes');
const BIN = join(ROOT, 'bin/rrpipe.js');
const UID = 10001;
const DATA = '/var/lib/rrpipe';

/** kubernetes-models' classes: each validates an object against its JSON schema (Kubernetes OpenAPI). */
const MODELS = { v1: core, 'apps/v1': apps, 'batch/v1': batch, 'policy/v1': policy, 'autoscaling/v2': autoscaling } as unknown as Record<string, Record<string, new (o: unknown) => { validate(): void }>>;
async function validateSchema(obj: K8sObject): Promise<void> {
  const Model = MODELS[obj.apiVersion]?.[obj.kind];
  if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}

function podOf(w: K8sObject) {
  return w.kind === 'CronJob' ? w.spec.jobTemplate.spec.template : w.spec.template;
}
function containersOf(w: K8sObject): { c: any; init: boolean }[] {
  const spec = podOf(w).spec;
  return [...(spec.initContainers ?? []).map((c: unknown) => ({ c, init: true })), ...spec.containers.map((c: unknown) => ({ c, init: false }))];
}
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/**
 * The environment a container would see, from the rendered objects: literal values, the envFrom
 * ConfigMaps, placeholders for Secrets and the downward API. Optional Secret keys are left out,
 * so a config has to work without them.
 */
function podEnv(objs: K8sObject[], c: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const cm = find(objs, 'ConfigMap', from.configMapRef?.name);
    if (!cm) throw new Error(`envFrom names ConfigMap ${from.configMapRef?.name}, which the overlay does not render`);
    Object.assign(env, cm.data);
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) env[e.name] = `downward-${e.valueFrom.fieldRef.fieldPath}`;
    else if (e.valueFrom?.secretKeyRef && !e.valueFrom.secretKeyRef.optional) env[e.name] = `secret-${e.valueFrom.secretKeyRef.key}`;
    else if (e.valueFrom?.configMapKeyRef) env[e.name] = find(objs, 'ConfigMap', e.valueFrom.configMapKeyRef.name)?.data?.[e.valueFrom.configMapKeyRef.key];
  }
  return env;
}

/** `$(VAR)` in args, as the kubelet expands them. */
const expand = (s: string, env: Record<string, string>) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_m, n: string) => env[n] ?? `$(${n})`);

const hostPort = (endpoint: string) => {
  const i = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, i), port: Number(endpoint.slice(i + 1)) };
};

/** The mount paths a container can write to: every mount but the read-only ones. */
const writable = (c: any) => (c.volumeMounts ?? []).filter((m: any) => !m.readOnly).map((m: any) => m.mountPath as string);
const under = (path: string, dirs: string[]) => dirs.some((d) => path === d || path.startsWith(`${d}/`));

/** The paths in a resolved config that rrpipe writes to. */
function statePaths(cfg: any): string[] {
  const out: string[] = [String(cfg.service?.data_dir)];
  for (const [id, c] of Object.entries<any>({ ...cfg.exporters, ...cfg.connectors, ...cfg.extensions })) {
    const type = id.split('/')[0];
    if ((type === 'file_storage' || type === 'local_archive') && c?.directory) out.push(String(c.directory));
    if ((type === 'file' || type === 'embedded') && c?.path) out.push(String(c.path));
  }
  return out;
}

describe('deploy/kubernetes', () => {
  it('has exactly the overlays this test describes', () => {
    expect(readdirSync(join(K8S, 'overlays')).sort()).toEqual(Object.keys(OVERLAYS).sort());
  });

  it('renders the base, and every base object validates against the Kubernetes schemas', async () => {
    const objs = kustomize(join(K8S, 'base'));
    expect(objs.map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort()).toEqual(
      ['ConfigMap/rrpipe-config', 'ConfigMap/rrpipe-params', 'Deployment/rrpipe', 'PodDisruptionBudget/rrpipe', 'Service/rrpipe-metrics', 'ServiceAccount/rrpipe'],
    );
    for (const o of objs) await validateSchema(o);
  });

  it('the schema check refuses a malformed object (it can fail)', async () => {
    const [dep] = kustomize(join(K8S, 'overlays/gateway')).filter((o) => o.kind === 'Deployment');
    const bad = structuredClone(dep!);
    bad.spec.template.spec.containers[0].securityContext.runAsUser = 'nobody';
    await expect(validateSchema(bad)).rejects.toThrow(/runAsUser/);
  });

  it('the config check can fail: without a value params.env sets, `rrpipe validate` refuses the eks config', async () => {
    const objs = kustomize(join(K8S, 'overlays/eks'));
    const c = podOf(find(objs, 'Deployment', 'rrpipe')!).spec.containers[0];
    const { RRPIPE_ARCHIVE_BUCKET: bucket, ...env } = podEnv(objs, c);
    expect(bucket).toBeTruthy();
    const file = join(mkdtempSync(join(tmpdir(), 'rrpipe-k8s-')), 'config.yaml');
    writeFileSync(file, objs.find((o) => o.metadata.name.startsWith('rrpipe-config-'))!.data['config.yaml']);
    const r = await run(process.execPath, [BIN, 'validate', '-c', file], { env: { PATH: process.env.PATH, ...env } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('s3_bucket');
  });

  for (const [name, want] of Object.entries(OVERLAYS)) {
    describe(`overlays/${name}`, () => {
      let objs: K8sObject[];
      let workloads: K8sObject[];
      let configText: string;
      let configFile: string;
      let main: any; // the rrpipe container of the first workload
      let env: Record<string, string>;
      let validated: { code: number; stdout: string; stderr: string };
      let resolved: any; // `rrpipe print-config` with the pod's environment
      beforeAll(async () => {
        objs = kustomize(join(K8S, 'overlays', name));
        workloads = want.workloads.map((w) => {
          const [kind, n] = w.split('/');
          const o = find(objs, kind!, n!);
          if (!o) throw new Error(`${w} is not rendered`);
          return o;
        });
        const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('rrpipe-config-'));
        configText = cm?.data?.['config.yaml'];
        configFile = join(mkdtempSync(join(tmpdir(), 'rrpipe-k8s-')), 'config.yaml');
        writeFileSync(configFile, configText ?? '');
        main = podOf(workloads[0]!).spec.containers.find((c: any) => c.name === 'rrpipe');
        env = podEnv(objs, main);
        // The CLI loads every component (cloud SDKs included): run it twice per overlay, at once.
        const cli = (cmd: string) => run(process.execPath, [BIN, cmd, '-c', configFile], { env: { PATH: process.env.PATH, ...env } });
        const [v, p] = await Promise.all([cli('validate'), cli('print-config')]);
        validated = v;
        expect(p.code, p.stderr).toBe(0);
        resolved = parse(p.stdout);
      });

      it('every object validates against the Kubernetes schemas and is namespaced in rrpipe', async () => {
        expect(objs.length).toBeGreaterThan(3);
        for (const o of objs) {
          await validateSchema(o);
          expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('rrpipe');
        }
      });

      it(`mounts ${want.config}, unchanged, as /etc/rrpipe/config.yaml`, () => {
        expect(configText).toBe(readFileSync(join(ROOT, want.config), 'utf8'));
        for (const w of workloads) {
          const pod = podOf(w).spec;
          for (const { c } of containersOf(w).filter((x) => !x.init)) {
            const m = c.volumeMounts.find((v: any) => v.mountPath === '/etc/rrpipe');
            const vol = pod.volumes.find((v: any) => v.name === m?.name);
            if (c.args.includes('snapshot')) continue; // reads the archive, not a config
            expect(m?.readOnly).toBe(true);
            expect(find(objs, 'ConfigMap', vol?.configMap?.name)?.data?.['config.yaml']).toBe(configText);
            expect(c.args.slice(c.args.indexOf('--config'), c.args.indexOf('--config') + 2)).toEqual(['--config', '/etc/rrpipe/config.yaml']);
          }
        }
      });

      it('the pod environment is enough for `rrpipe validate` to accept the config', () => {
        expect(validated.stderr).not.toMatch(/error|is not set/);
        expect(validated.stdout).toContain('valid');
        expect(validated.code).toBe(0);
      });

      it('no container is privileged; each drops ALL capabilities and adds exactly those listed', () => {
        for (const w of workloads) {
          const pod = podOf(w).spec;
          expect(pod.hostPID ?? false).toBe(false);
          expect(pod.hostIPC ?? false).toBe(false);
          expect(pod.hostNetwork ?? false).toBe(want.hostNetwork ?? false);
          expect(pod.automountServiceAccountToken).toBe(false);
          expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: UID, runAsGroup: UID, seccompProfile: { type: 'RuntimeDefault' } });
          for (const { c } of containersOf(w)) {
            const sc = c.securityContext;
            expect(sc.privileged ?? false, c.name).toBe(false);
            expect(sc.capabilities.drop, c.name).toEqual(['ALL']);
            expect(sc.capabilities.add ?? [], c.name).toEqual(want.caps?.[c.name] ?? []);
            expect(sc.readOnlyRootFilesystem, c.name).toBe(true);
            expect(sc.allowPrivilegeEscalation, c.name).toBe((want.escalation ?? []).includes(c.name));
            if ((want.root ?? []).includes(c.name)) expect(sc).toMatchObject({ runAsUser: 0, runAsNonRoot: false });
            else expect(sc, c.name).toMatchObject({ runAsNonRoot: true, runAsUser: UID, runAsGroup: UID });
          }
        }
      });

      it(`runs image rrpipe:${PKG.version} with memory requests and limits`, () => {
        for (const w of workloads) {
          for (const { c } of containersOf(w)) {
            expect(c.image, c.name).toBe(`rrpipe:${PKG.version}`);
            expect(c.resources?.requests?.memory, c.name).toBeTruthy();
            expect(c.resources?.limits?.memory, c.name).toBeTruthy();
            expect(c.resources?.requests?.cpu, c.name).toBeTruthy();
          }
        }
      });

      it('everything the config writes, and every path in the arguments, is on a writable volume', () => {
        for (const w of workloads) {
          for (const { c } of containersOf(w).filter((x) => !x.init)) {
            const args: string[] = c.args.map((a: string) => expand(a, podEnv(objs, c)));
            for (const a of args) expect(a, `unset variable in ${a}`).not.toMatch(/\$\(/);
            if (args[0] === 'snapshot') {
              expect(under(args[args.indexOf('--out') + 1]!, writable(c))).toBe(true);
              expect(args[args.indexOf('--from') + 1]).toMatch(/^(s3|gs|azblob):\/\//);
              continue;
            }
            expect(podEnv(objs, c)).toEqual(env); // the config is resolved with this environment
            for (const p of statePaths(resolved)) {
              expect(posix.isAbsolute(p), `${p} is relative`).toBe(true);
              expect(under(posix.normalize(p), writable(c)), `${p} not on a writable volume of ${c.name}`).toBe(true);
            }
            expect(writable(c)).toContain(DATA);
            expect(writable(c)).toContain('/tmp');
          }
        }
      });

      const longRunning = want.workloads.some((w) => /^(Deployment|DaemonSet)\//.test(w));
      if (longRunning) {
        it('probes the health_check extension, and the metrics Service reaches the telemetry address', () => {
          const w = workloads[0]!;
          const c = main;
          const cfg = resolved;
          expect(cfg.service.extensions).toContain('health_check');
          const health = hostPort(cfg.extensions.health_check.endpoint);
          expect(health.host).toBe('0.0.0.0'); // the kubelet probes the pod address
          const portOf = (p: number | string) => (typeof p === 'number' ? p : c.ports.find((x: any) => x.name === p)?.containerPort);
          for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
            expect(c[probe]?.httpGet, probe).toBeTruthy();
            expect(portOf(c[probe].httpGet.port), probe).toBe(health.port);
            expect(c[probe].httpGet.path, probe).toBe(cfg.extensions.health_check.path);
          }
          const metrics = hostPort(cfg.service.telemetry.metrics.address);
          expect(metrics.host).toBe('0.0.0.0');
          const svc = find(objs, 'Service', 'rrpipe-metrics')!;
          expect(matches(svc.spec.selector, podOf(w).metadata.labels)).toBe(true);
          expect(portOf(svc.spec.ports[0].targetPort)).toBe(metrics.port);
          // With the host's network, the query API (RRPairs) must not listen on the node's address.
          if (want.hostNetwork && cfg.extensions.query_api) expect(hostPort(cfg.extensions.query_api.endpoint).host).toMatch(/^(localhost|127\.0\.0\.1)$/);
        });
      }

      it('every Service, budget and autoscaler points at this overlay\'s pods and ports', () => {
        const podLabels = workloads.map((w) => podOf(w).metadata.labels);
        for (const o of objs) {
          if (o.kind === 'Service') {
            const w = workloads.find((x) => matches(o.spec.selector, podOf(x).metadata.labels));
            expect(w, `Service ${o.metadata.name} selects no pod`).toBeTruthy();
            const ports = podOf(w!).spec.containers.flatMap((c: any) => c.ports ?? []);
            for (const p of o.spec.ports) expect(ports.some((x: any) => x.name === p.targetPort || x.containerPort === p.targetPort), `${o.metadata.name}:${p.name}`).toBe(true);
          }
          if (o.kind === 'PodDisruptionBudget') expect(podLabels.some((l) => matches(o.spec.selector.matchLabels, l))).toBe(true);
          if (o.kind === 'HorizontalPodAutoscaler') expect(find(objs, o.spec.scaleTargetRef.kind, o.spec.scaleTargetRef.name)).toBeTruthy();
        }
        for (const w of workloads) expect(find(objs, 'ServiceAccount', podOf(w).spec.serviceAccountName)).toBeTruthy();
      });

      if (want.gateway) {
        it('serves OTLP on 4317/4318 behind a Service, scales on CPU, and makes gRPC clients reconnect', () => {
          const svc = find(objs, 'Service', 'rrpipe-otlp')!;
          expect(svc.spec.ports.map((p: any) => [p.name, p.port])).toEqual([['otlp-grpc', 4317], ['otlp-http', 4318]]);
          const hpa = find(objs, 'HorizontalPodAutoscaler', 'rrpipe')!;
          expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
          expect(find(objs, 'PodDisruptionBudget', 'rrpipe')).toBeTruthy();
          const cfg = parse(configText);
          expect(hostPort(cfg.receivers.otlp.protocols.grpc.endpoint)).toEqual({ host: '0.0.0.0', port: 4317 });
          expect(cfg.receivers.otlp.protocols.grpc.keepalive?.server_parameters?.max_connection_age).toBeTruthy();
        });
      }

      it(want.identity ? `wires ${want.identity} workload identity` : 'carries no cloud identity', () => {
        const sa = find(objs, 'ServiceAccount', 'rrpipe')!;
        const ann = sa.metadata.annotations ?? {};
        const podLabels = podOf(workloads[0]!).metadata.labels;
        const ids = Object.keys(ann).filter((k) => /eks\.amazonaws\.com|iam\.gke\.io|azure\.workload\.identity/.test(k));
        if (want.identity === 'eks') expect(ann['eks.amazonaws.com/role-arn']).toMatch(/^arn:aws:iam::\d{12}:role\/.+/);
        else if (want.identity === 'gke') expect(ann['iam.gke.io/gcp-service-account']).toMatch(/^[a-z][-a-z0-9]*@[-a-z0-9]+\.iam\.gserviceaccount\.com$/);
        else if (want.identity === 'aks') {
          expect(ann['azure.workload.identity/client-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
          expect(podLabels['azure.workload.identity/use']).toBe('true');
        } else expect(ids).toEqual([]);
      });

      if (want.hostNetwork) {
        it('passes node and pod names from the downward API and keeps state in a hostPath', () => {
          const pod = podOf(workloads[0]!).spec;
          const c = pod.containers.find((x: any) => x.name === 'rrpipe');
          const field = (n: string) => c.env.find((e: any) => e.name === n)?.valueFrom?.fieldRef?.fieldPath;
          expect([field('NODE_NAME'), field('POD_NAME'), field('POD_NAMESPACE')]).toEqual(['spec.nodeName', 'metadata.name', 'metadata.namespace']);
          const data = pod.volumes.find((v: any) => v.name === c.volumeMounts.find((m: any) => m.mountPath === DATA).name);
          expect(data.hostPath).toEqual({ path: DATA, type: 'DirectoryOrCreate' });
          expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
        });
      }
    });
  }
});
