import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret, type IContainer, type IPodSpec } from 'kubernetes-models/v1';
import { FAKE_SECRET } from './deploy-config';
import type { SourcedDoc } from './kustomize';

/** Typed views of the pods that rendered workloads create, for the invariants of the spec. */

export interface Pod {
  readonly source: string;
  readonly kind: 'Deployment' | 'DaemonSet' | 'StatefulSet';
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The workload's selector.matchLabels. */
  readonly selector: Readonly<Record<string, string>>;
  readonly spec: IPodSpec;
  /** Names of a StatefulSet's volumeClaimTemplates (usable as volumes by its pods). */
  readonly claimTemplates: readonly string[];
}

export function podsOf(docs: readonly SourcedDoc[]): Pod[] {
  const pods: Pod[] = [];
  for (const { source, doc } of docs) {
    const workload = Deployment.is(doc) || DaemonSet.is(doc) || StatefulSet.is(doc) ? doc : undefined;
    if (!workload?.spec?.template.spec) continue;
    pods.push({
      source,
      kind: workload.kind,
      name: workload.metadata?.name ?? '',
      labels: workload.spec.template.metadata?.labels ?? {},
      selector: workload.spec.selector.matchLabels ?? {},
      spec: workload.spec.template.spec,
      claimTemplates: StatefulSet.is(workload)
        ? (workload.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? '')
        : [],
    });
  }
  return pods;
}

export const SERVER_IMAGE = 'mcu-media-server';
export const RECORDING_WORKER_ENTRY = 'dist/workers/recording/main.js';

export function isServerImage(c: IContainer): boolean {
  const repo = (c.image ?? '').replace(/:[^/]*$/, '');
  return repo === SERVER_IMAGE || repo.endsWith(`/${SERVER_IMAGE}`);
}

export function isRecordingWorker(c: IContainer): boolean {
  return isServerImage(c) && [...(c.command ?? []), ...(c.args ?? [])].includes(RECORDING_WORKER_ENTRY);
}

/** A container of the server image that runs the server itself (control and/or media). */
export function isServer(c: IContainer): boolean {
  return isServerImage(c) && !isRecordingWorker(c);
}

export function configMap(docs: readonly SourcedDoc[], name: string): Record<string, string> | undefined {
  for (const { doc } of docs) if (ConfigMap.is(doc) && doc.metadata?.name === name) return doc.data ?? {};
  return undefined;
}

export function secretKeys(docs: readonly SourcedDoc[], name: string): string[] | undefined {
  for (const { doc } of docs)
    if (Secret.is(doc) && doc.metadata?.name === name)
      return [...Object.keys(doc.data ?? {}), ...Object.keys(doc.stringData ?? {})];
  return undefined;
}

/** What the downward API gives a pod, with made-up values of the right shape. */
const FIELD_SAMPLES: Record<string, string> = {
  'status.hostIP': '10.0.0.7',
  'status.podIP': '10.244.1.9',
  'spec.nodeName': 'worker-1',
  'metadata.name': 'mcu-control-5d9c7b-x2x7q',
};

export interface SecretRef {
  readonly variable: string;
  readonly secret: string;
  readonly key: string;
  readonly optional: boolean;
}

export interface ContainerEnv {
  /** The environment the container starts with (fields and secrets as samples). */
  readonly env: Record<string, string>;
  readonly secretRefs: readonly SecretRef[];
  readonly fieldRefs: Readonly<Record<string, string>>;
  /** Variables written into the manifest as literal values. */
  readonly literal: ReadonlySet<string>;
}

/** Resolves a container's envFrom and env against the rendered ConfigMaps; throws on a dangling reference. */
export function containerEnv(c: IContainer, docs: readonly SourcedDoc[]): ContainerEnv {
  const env: Record<string, string> = {};
  const secretRefs: SecretRef[] = [];
  const fieldRefs: Record<string, string> = {};
  const literal = new Set<string>();
  for (const from of c.envFrom ?? []) {
    if (from.secretRef)
      throw new Error(`${c.name}: envFrom a Secret hides which secrets it gets; use secretKeyRef`);
    const name = from.configMapRef?.name ?? '';
    const data = configMap(docs, name);
    if (!data) throw new Error(`${c.name}: envFrom ConfigMap "${name}" does not exist`);
    for (const [key, value] of Object.entries(data)) {
      env[key] = value;
      literal.add(key);
    }
  }
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    if (!from) {
      env[e.name] = e.value ?? '';
      literal.add(e.name);
    } else if (from.fieldRef) {
      const sample = FIELD_SAMPLES[from.fieldRef.fieldPath];
      if (sample === undefined)
        throw new Error(`${c.name}: ${e.name}: no sample for ${from.fieldRef.fieldPath}`);
      env[e.name] = sample;
      fieldRefs[e.name] = from.fieldRef.fieldPath;
    } else if (from.secretKeyRef) {
      const { name = '', key, optional = false } = from.secretKeyRef;
      secretRefs.push({ variable: e.name, secret: name, key, optional });
      env[e.name] = FAKE_SECRET;
    } else if (from.configMapKeyRef) {
      const value = configMap(docs, from.configMapKeyRef.name ?? '')?.[from.configMapKeyRef.key];
      if (value === undefined) throw new Error(`${c.name}: ${e.name}: dangling configMapKeyRef`);
      env[e.name] = value;
    } else throw new Error(`${c.name}: ${e.name}: unsupported valueFrom`);
  }
  return { env, secretRefs, fieldRefs, literal };
}

/** The volume mounted at exactly this path in a container, if any. */
export function volumeAt(pod: Pod, c: IContainer, mountPath: string) {
  const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === mountPath);
  if (!mount) return undefined;
  const volume = (pod.spec.volumes ?? []).find((v) => v.name === mount.name);
  return { mount, volume, fromClaimTemplate: pod.claimTemplates.includes(mount.name) };
}

export function matches(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
) {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}
