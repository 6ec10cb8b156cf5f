import * as fs from 'node:fs';
import * as path from 'node:path';
import { DaemonSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import {
  CAPACITY,
  CLUSTER_SECRETS,
  SECRET_NAMES,
  bytes,
  checkEnvironment,
  runsRecordingWorker,
  clusterSettingsSchema,
  milliCores,
} from './deploy-config';
import { Findings } from './findings';
import { strictFieldErrors, validateWithModel } from './k8s-schema';
import { isRecord, parseEnvFile, renderKustomization, type Rendered } from './kustomize';
import {
  configMap,
  containerEnv,
  isRecordingWorker,
  isServer,
  isServerImage,
  matches,
  podsOf,
  secretKeys,
  volumeAt,
  type Pod,
} from './pods';

/**
 * docker/k8s rendered as `kubectl apply -k` would, checked against the Kubernetes schemas and the
 * deployment's invariants (issue #11, item 9). No cluster runs here: this is the whole check.
 */
const ROOT = path.resolve(__dirname, '../../..');
const K8S = path.join(ROOT, 'docker/k8s');
const HOOK_SCRIPT = path.join(K8S, 'base/drain.mjs');
const renderErrors: string[] = [];
/** Renders or records why not, so that a missing file fails a named test, not the whole file. */
function render(
  name: string,
  secretsGenerated: boolean,
): [string, Rendered, { secretsGenerated: boolean }][] {
  try {
    return [[name, renderKustomization(path.join(K8S, name)), { secretsGenerated }]];
  } catch (err) {
    renderErrors.push(err instanceof Error ? err.message : String(err));
    return [];
  }
}
const renders = [...render('base', false), ...render('overlays/example', true)];

const label = (source: string, doc: Record<string, unknown>) =>
  `${source} ${String(doc.kind)}/${isRecord(doc.metadata) ? String(doc.metadata.name) : '?'}`;

function yamlFilesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return yamlFilesUnder(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

/** Every container of every pod, with its pod and a label for messages. */
function containers(pods: readonly Pod[]) {
  return pods.flatMap((pod) =>
    pod.spec.containers.map((c) => ({ pod, c, where: `${pod.source} ${c.name}` })),
  );
}

describe('Kubernetes manifests (docker/k8s)', () => {
  it('renders the base and the example overlay: every resource, patch and generator file exists', () => {
    expect(renderErrors).toEqual([]);
  });

  it('every YAML file under docker/k8s is read by a kustomization', () => {
    const read = new Set(renders.flatMap(([, r]) => [...r.filesRead]));
    expect(yamlFilesUnder(K8S).filter((f) => !read.has(f))).toEqual([]);
  });

  // (Nothing rendered: the first test says why; jest refuses an empty table.)
  const each = renders.length > 0 ? describe.each(renders) : () => undefined;
  each('%s', (_name, rendered, { secretsGenerated }) => {
    const { docs } = rendered;
    const pods = podsOf(docs);
    const all = containers(pods);
    const servers = all.filter(({ c }) => isServer(c));
    const withRole = (role: string) =>
      servers.filter(({ c }) => (containerEnv(c, docs).env.NODE_ROLES ?? '').split(',').includes(role));
    const media = withRole('media');
    const control = withRole('control');
    const envOf = (c: Pod['spec']['containers'][number]) => containerEnv(c, docs).env;

    it('every document validates against the Kubernetes schema of its apiVersion/kind', () => {
      const f = new Findings();
      for (const { source, doc } of docs) f.run(label(source, doc), () => validateWithModel(doc));
      f.expectNone();
    });

    it('no document has a field the Kubernetes API does not define', () => {
      expect(strictFieldErrors(docs.map(({ source, doc }) => ({ label: label(source, doc), doc })))).toEqual(
        [],
      );
    });

    it('holds the expected workloads, all in the one Namespace', () => {
      expect(pods.map((p) => `${p.kind}/${p.name}`).sort()).toEqual([
        'DaemonSet/mcu-media',
        'Deployment/mcu-control',
        'Deployment/mcu-recording-worker',
        'StatefulSet/mcu-redis',
      ]);
      const namespaces = docs.flatMap(({ doc }) => (Namespace.is(doc) ? [doc.metadata?.name] : []));
      expect(namespaces).toHaveLength(1);
      const f = new Findings();
      for (const { source, doc } of docs) {
        const ns = isRecord(doc.metadata) ? doc.metadata.namespace : undefined;
        if (!Namespace.is(doc)) f.check(label(source, doc), ns === namespaces[0], `namespace ${String(ns)}`);
      }
      f.expectNone();
    });

    it('selectors and references point at objects that exist', () => {
      const f = new Findings();
      const named = (is: (d: unknown) => boolean, name: string | undefined) =>
        docs.find(({ doc }) => is(doc) && isRecord(doc.metadata) && doc.metadata.name === name)?.doc;
      for (const { source, doc } of docs) {
        const where = label(source, doc);
        const selector = Service.is(doc)
          ? doc.spec?.selector
          : PodDisruptionBudget.is(doc)
            ? doc.spec?.selector?.matchLabels
            : undefined;
        if (selector)
          f.check(
            where,
            pods.some((p) => matches(selector, p.labels)),
            'selects no pod',
          );
        if (HorizontalPodAutoscaler.is(doc)) {
          const t = doc.spec?.scaleTargetRef;
          f.check(
            where,
            pods.some((p) => p.kind === t?.kind && p.name === t.name),
            'scales nothing',
          );
        }
        if (StatefulSet.is(doc))
          f.check(where, !!named(Service.is, doc.spec?.serviceName), 'no governing Service');
        if (Ingress.is(doc))
          for (const { backend } of (doc.spec?.rules ?? []).flatMap((r) => r.http?.paths ?? [])) {
            const svc = named(Service.is, backend.service?.name);
            const ok =
              Service.is(svc) && !!svc.spec?.ports?.some((p) => p.name === backend.service?.port?.name);
            f.check(
              where,
              ok,
              `backend ${backend.service?.name}:${backend.service?.port?.name} does not exist`,
            );
          }
      }
      for (const pod of pods) {
        f.check(pod.source, matches(pod.selector, pod.labels), 'selector does not match the pod labels');
        for (const v of pod.spec.volumes ?? []) {
          if (v.persistentVolumeClaim)
            f.check(pod.source, !!named(PersistentVolumeClaim.is, v.persistentVolumeClaim.claimName), v.name);
          if (v.configMap) f.check(pod.source, !!configMap(docs, v.configMap.name ?? ''), v.name);
        }
        for (const c of pod.spec.containers) f.run(pod.source, () => containerEnv(c, docs));
      }
      f.expectNone();
    });

    it('the Ingress carries socket.io (WebSocket only in a cluster) to the control pods, idle sockets kept', () => {
      const ingresses = docs.map(({ doc }) => doc).filter((d) => Ingress.is(d));
      expect(ingresses.length).toBeGreaterThanOrEqual(1);
      const f = new Findings();
      for (const ing of ingresses) {
        const where = `Ingress/${ing.metadata?.name}`;
        // ingress-nginx upgrades WebSocket by itself; its 60 s default timeouts would cut an
        // idle signaling socket (socket.io pings every 25 s, but a proxy counts data, not pings).
        const a = ing.metadata?.annotations ?? {};
        for (const k of ['proxy-read-timeout', 'proxy-send-timeout'])
          f.check(where, Number(a[`nginx.ingress.kubernetes.io/${k}`]) >= 3600, `${k} below 3600 s`);
        // socket.io's path (/socket.io/) is under a `/` Prefix rule to the control Service's pods.
        const paths = (ing.spec?.rules ?? []).flatMap((r) => r.http?.paths ?? []);
        f.check(
          where,
          paths.some(
            (p) => p.path === '/' && p.pathType === 'Prefix' && p.backend.service?.name === 'mcu-control',
          ),
          '/ (socket.io, REST, pages) not routed to mcu-control',
        );
      }
      const service = docs
        .map(({ doc }) => doc)
        .find((d) => Service.is(d) && d.metadata?.name === 'mcu-control');
      f.check('Service/mcu-control', Service.is(service), 'missing');
      if (Service.is(service))
        f.check(
          'Service/mcu-control',
          JSON.stringify(service.spec?.selector) ===
            JSON.stringify({
              'app.kubernetes.io/name': 'mcu-media-server',
              'app.kubernetes.io/component': 'control',
            }),
          'selects other pods than the control Deployment',
        );
      f.expectNone();
    });

    it('server containers probe /healthz for liveness and /readyz for readiness on their HTTP port', () => {
      expect(servers.length).toBeGreaterThanOrEqual(2);
      const f = new Findings();
      for (const { c, where } of servers) {
        const http = c.ports?.find((p) => p.name === 'http');
        f.check(where, http?.containerPort === Number(envOf(c).PORT), 'port "http" is not PORT');
        const probes = { liveness: c.livenessProbe, startup: c.startupProbe ?? c.livenessProbe };
        for (const [kind, probe] of Object.entries(probes))
          f.check(
            where,
            probe?.httpGet?.path === '/healthz' && probe.httpGet.port === 'http',
            `${kind} /healthz`,
          );
        const r = c.readinessProbe?.httpGet;
        f.check(where, r?.path === '/readyz' && r.port === 'http', 'readiness on /readyz');
      }
      f.expectNone();
    });

    it('the recording worker runs the standalone entry point with no HTTP probe (it serves no HTTP)', () => {
      const workers = all.filter(({ c }) => isRecordingWorker(c));
      expect(workers).toHaveLength(1);
      const { c } = workers[0];
      expect([c.livenessProbe, c.readinessProbe, c.startupProbe].map((p) => p?.httpGet)).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
    });

    it('Redis persists with AOF on a claim template and is probed with redis-cli', () => {
      const redis = all.filter(({ c }) => (c.image ?? '').startsWith('redis:'));
      expect(redis).toHaveLength(1);
      const { pod, c } = redis[0];
      const args = [...(c.command ?? []), ...(c.args ?? [])];
      const option = (name: string) => args[args.indexOf(name) + 1];
      expect([option('--appendonly'), option('--maxmemory-policy')]).toEqual(['yes', 'noeviction']);
      expect(volumeAt(pod, c, option('--dir'))?.fromClaimTemplate).toBe(true);
      expect([c.livenessProbe, c.readinessProbe].map((p) => p?.exec?.command)).toEqual([
        ['redis-cli', 'ping'],
        ['redis-cli', 'ping'],
      ]);
    });

    it('RTMP ingest listens on the media machines (where rooms live) and nowhere else', () => {
      const f = new Findings();
      for (const { c, where } of media) {
        const { env, fieldRefs } = containerEnv(c, docs);
        const port = Number(env.RTMP_PORT ?? '1935');
        f.check(where, port > 0, 'RTMP_PORT off on a media node');
        f.check(
          where,
          !!c.ports?.some((p) => p.containerPort === port && (p.protocol ?? 'TCP') === 'TCP'),
          `RTMP port ${port} not declared`,
        );
        f.check(where, fieldRefs.RTMP_PUBLIC_HOST === 'status.hostIP', 'RTMP_PUBLIC_HOST from status.hostIP');
      }
      for (const { c, where } of control)
        if (!withRole('media').some((m) => m.c === c))
          f.check(where, envOf(c).RTMP_PORT === '0', 'RTMP_PORT 0 on a control-only pod');
      f.expectNone();
    });

    it('media pods use the host network, bound the RTC UDP range and announce the host IP', () => {
      expect(media.length).toBeGreaterThanOrEqual(1);
      const f = new Findings();
      for (const { pod, c, where } of media) {
        f.check(where, pod.spec.hostNetwork === true, 'hostNetwork');
        f.check(where, pod.spec.dnsPolicy === 'ClusterFirstWithHostNet', 'dnsPolicy ClusterFirstWithHostNet');
        const { env, fieldRefs } = containerEnv(c, docs);
        f.check(where, Number(env.RTC_MAX_PORT) - Number(env.RTC_MIN_PORT) >= 1000, 'RTC port range < 1000');
        f.check(where, fieldRefs.ANNOUNCED_IP === 'status.hostIP', 'ANNOUNCED_IP from status.hostIP');
        f.check(
          where,
          ['spec.nodeName', 'metadata.name'].includes(fieldRefs.NODE_ID),
          'NODE_ID from the pod',
        );
        const ds = docs.find(({ doc }) => DaemonSet.is(doc) && doc.metadata?.name === pod.name)?.doc;
        // A surge pod would need the same host ports on the same machine.
        if (DaemonSet.is(ds))
          f.check(where, ds.spec?.updateStrategy?.rollingUpdate?.maxSurge === 0, 'maxSurge 0');
      }
      f.expectNone();
    });

    it('media pods drain in preStop and get more time to terminate than the drain takes', () => {
      const script = fs.readFileSync(HOOK_SCRIPT, 'utf8');
      const margin = Number(/const EXIT_MARGIN_S = (\d+);/.exec(script)?.[1]);
      expect(margin).toBeGreaterThan(0);
      const f = new Findings();
      for (const { pod, c, where } of servers) {
        const drain = Number(envOf(c).DRAIN_TIMEOUT_S);
        const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
        const needed = media.some((m) => m.c === c) ? drain + margin : drain;
        f.check(where, grace > needed, `terminationGracePeriodSeconds ${grace} <= ${needed}`);
      }
      for (const { pod, c, where } of media) {
        const [program, file = ''] = c.lifecycle?.preStop?.exec?.command ?? [];
        // The hook runs the committed script, mounted from the generated ConfigMap.
        const mounted = volumeAt(pod, c, path.posix.dirname(file));
        const data = configMap(docs, mounted?.volume?.configMap?.name ?? '');
        f.check(
          where,
          program === 'node' && data?.[path.posix.basename(file)] === script,
          'preStop runs drain.mjs',
        );
      }
      f.expectNone();
    });

    it('every environment variable is a configuration variable and parses as the server would', () => {
      const f = new Findings();
      for (const { c, where } of all.filter(({ c }) => isServerImage(c)))
        f.run(where, () =>
          checkEnvironment(envOf(c), runsRecordingWorker([...(c.command ?? []), ...(c.args ?? [])])),
        );
      for (const { c, where } of control)
        f.check(where, envOf(c).NODE_ROLES === 'control', 'NODE_ROLES control');
      f.expectNone();
    });

    it('secrets come only from the Secret, the same one for every server node', () => {
      const f = new Findings();
      for (const { doc, source, generated } of docs) {
        if (Secret.is(doc)) f.check(source, generated, 'a Secret with values in a manifest');
        for (const [key, value] of Object.entries(ConfigMap.is(doc) ? (doc.data ?? {}) : {})) {
          f.check(source, !SECRET_NAMES.some((s) => s === key), `${key} in a ConfigMap`);
          f.check(source, !/:\/\/[^/\s@]*:[^/\s@]+@/.test(value), `${key} holds a password in a URL`);
        }
      }
      for (const { c, where } of all) {
        const { secretRefs, literal } = containerEnv(c, docs);
        for (const name of SECRET_NAMES)
          f.check(where, !literal.has(name), `${name} written in the manifest`);
        for (const ref of secretRefs) {
          f.check(where, ref.key === ref.variable, `${ref.variable} from key ${ref.key}`);
          if (secretsGenerated)
            f.check(where, !!secretKeys(docs, ref.secret)?.includes(ref.key), `${ref.key} missing`);
        }
      }
      const secrets = new Set<string>();
      for (const { c, where } of servers)
        for (const name of CLUSTER_SECRETS) {
          const ref = containerEnv(c, docs).secretRefs.find((r) => r.variable === name);
          f.check(where, ref?.optional === false, `${name} must come, not optional, from a Secret`);
          secrets.add(ref?.secret ?? '');
        }
      // TURN_URLS is cluster-wide (ConfigMap); every server signs credentials with the same secret.
      for (const { c, where } of servers) {
        const ref = containerEnv(c, docs).secretRefs.find((r) => r.variable === 'TURN_SECRET');
        f.check(where, !!ref && secrets.has(ref.secret), 'TURN_SECRET not from the Secret');
      }
      f.check('server pods', secrets.size === 1, `secrets from ${[...secrets].join(', ')}`);
      f.expectNone();
    });

    it('recordings are one ReadWriteMany claim mounted at RECORDINGS_DIR by media, control and recording pods', () => {
      expect([media.length > 0, control.length > 0]).toEqual([true, true]);
      const claims = new Set<string>();
      const f = new Findings();
      for (const { pod, c, where } of all.filter(({ c }) => isServerImage(c))) {
        const at = volumeAt(pod, c, envOf(c).RECORDINGS_DIR);
        f.check(where, !!at && !at.mount.readOnly, 'RECORDINGS_DIR is not a writable mount');
        claims.add(at?.volume?.persistentVolumeClaim?.claimName ?? '');
      }
      f.expectNone();
      expect(claims.size).toBe(1);
      const pvc = docs.find(
        ({ doc }) => PersistentVolumeClaim.is(doc) && doc.metadata?.name === [...claims][0],
      )?.doc;
      expect(PersistentVolumeClaim.is(pvc) && pvc.spec?.accessModes).toEqual(['ReadWriteMany']);
    });

    it('pods run as non-root with a read-only root filesystem and writable DATA_DIR and /tmp', () => {
      const f = new Findings();
      for (const pod of pods) {
        const sc = pod.spec.securityContext;
        f.check(pod.source, sc?.runAsNonRoot === true && sc.runAsUser !== 0, 'runs as root');
        f.check(pod.source, sc?.seccompProfile?.type === 'RuntimeDefault', 'no RuntimeDefault seccomp');
        f.check(pod.source, pod.spec.automountServiceAccountToken === false, 'mounts an API token');
      }
      for (const { pod, c, where } of all) {
        const sc = c.securityContext;
        f.check(where, sc?.allowPrivilegeEscalation === false, 'allowPrivilegeEscalation');
        f.check(where, sc?.readOnlyRootFilesystem === true, 'readOnlyRootFilesystem');
        f.check(where, JSON.stringify(sc?.capabilities?.drop) === '["ALL"]', 'capabilities not dropped');
        if (!isServerImage(c)) continue;
        for (const dir of [envOf(c).DATA_DIR, '/tmp']) {
          const v = volumeAt(pod, c, dir)?.volume;
          f.check(where, !!(v?.emptyDir ?? v?.persistentVolumeClaim), `${dir} is not writable`);
        }
      }
      f.expectNone();
    });

    it('resources follow the measured capacity model (docs/deploy.md)', () => {
      const f = new Findings();
      for (const { c, where } of all) {
        const { requests = {}, limits = {} } = c.resources ?? {};
        f.check(
          where,
          'cpu' in requests && 'memory' in requests && 'memory' in limits,
          'requests/limits missing',
        );
      }
      for (const { c, where } of media) {
        const { requests = {}, limits = {} } = c.resources ?? {};
        const capacity = clusterSettingsSchema.shape.NODE_CAPACITY.parse(envOf(c).NODE_CAPACITY) ?? 0;
        f.check(where, capacity > 0, 'NODE_CAPACITY');
        // Guaranteed QoS in whole cores: the static CPU manager can pin them, no CFS throttling.
        f.check(where, limits.cpu === requests.cpu && limits.memory === requests.memory, 'not Guaranteed');
        const cpu = milliCores(limits.cpu);
        f.check(where, cpu % 1000 === 0, 'CPU not in whole cores');
        const budget = capacity * CAPACITY.milliCoresPerParticipant;
        f.check(
          where,
          budget <= cpu * CAPACITY.targetUtilisation,
          `NODE_CAPACITY needs ${budget}m of ${cpu}m`,
        );
        // Worst case: every participant alone in a room, one media worker process each.
        const memory = capacity * CAPACITY.bytesPerRoom + CAPACITY.controlPlaneBytes;
        f.check(where, bytes(limits.memory) >= memory, `memory below ${memory} bytes`);
      }
      for (const { c, where } of control)
        f.check(where, bytes(c.resources?.limits?.memory) >= CAPACITY.controlPlaneBytes, 'memory limit');
      f.expectNone();
    });
  });

  it('the overlay takes the Secret from a git-ignored secrets.env whose committed example holds no value', () => {
    const overlay = renders.find(([name]) => name === 'overlays/example')?.[1];
    expect(overlay?.fromExample).toEqual([path.join(K8S, 'overlays/example/secrets.env.example')]);
    const example = parseEnvFile(overlay?.fromExample[0] ?? '');
    expect(Object.keys(example).sort()).toEqual([...SECRET_NAMES].sort());
    expect(Object.values(example).filter((v) => v !== '')).toEqual([]);
    const ignored = fs.readFileSync(path.join(K8S, 'overlays/example/.gitignore'), 'utf8').split('\n');
    expect(ignored).toContain('secrets.env');
  });
});
