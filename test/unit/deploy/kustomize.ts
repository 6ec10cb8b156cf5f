import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

/**
 * A hand renderer of the kustomize features docker/k8s uses, so that the test sees what
 * `kubectl apply -k` would apply without a kustomize binary: resources (files and bases),
 * config/secret generators, strategic-merge patches, images and namespace. Anything else in a
 * kustomization.yaml fails the schema below rather than being silently ignored. Generated names
 * keep no hash suffix (kustomize rewrites the references to them consistently).
 */

export type Doc = Record<string, unknown>;

export interface SourcedDoc {
  /** Where the document came from: `file.yaml#2`, or `generator:name` for generated ones. */
  readonly source: string;
  readonly generated: boolean;
  readonly doc: Doc;
}

export interface Rendered {
  readonly docs: SourcedDoc[];
  /** Every file the kustomizations read (absolute paths), to find manifests nobody applies. */
  readonly filesRead: Set<string>;
  /** Generator env files rendered from their committed `.example` (the real one is git-ignored). */
  readonly fromExample: string[];
}

const generatorSchema = z.strictObject({
  name: z.string().min(1),
  files: z.array(z.string()).optional(),
  envs: z.array(z.string()).optional(),
});

const kustomizationSchema = z.strictObject({
  apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
  kind: z.literal('Kustomization'),
  namespace: z.string().min(1).optional(),
  resources: z.array(z.string()).default([]),
  images: z
    .array(
      z.strictObject({ name: z.string(), newName: z.string().optional(), newTag: z.string().optional() }),
    )
    .default([]),
  patches: z.array(z.strictObject({ path: z.string() })).default([]),
  configMapGenerator: z.array(generatorSchema).default([]),
  secretGenerator: z.array(generatorSchema).default([]),
});

/** Kinds that live outside namespaces (only those docker/k8s could plausibly contain). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'PersistentVolume',
  'StorageClass',
  'ClusterRole',
  'PriorityClass',
]);

/** Lists merged element by element in a strategic-merge patch, by this key. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
};
/** Lists Kubernetes merges too but this renderer does not: a patch touching one is refused. */
const UNSUPPORTED_MERGED_LISTS = new Set([
  'ports',
  'imagePullSecrets',
  'topologySpreadConstraints',
  'hostAliases',
  'ephemeralContainers',
]);

export function isRecord(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Every document of a YAML file. Kubernetes reads manifests as YAML 1.1 (an unquoted `yes` or
 * `on` is a boolean there), so they are parsed the same way here.
 */
export function loadYamlDocuments(file: string): Doc[] {
  const out: Doc[] = [];
  for (const parsed of parseAllDocuments(fs.readFileSync(file, 'utf8'), { version: '1.1' })) {
    if (parsed.errors.length > 0) throw new Error(`${file}: ${parsed.errors[0].message}`);
    const value: unknown = parsed.toJS();
    if (value === null || value === undefined) continue; // an empty document (e.g. after a trailing ---)
    if (!isRecord(value)) throw new Error(`${file}: a document is not a mapping`);
    out.push(value);
  }
  return out;
}

/** KEY=VALUE lines; blank lines and # comments skipped (the kustomize `envs` format). */
export function parseEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${file}: "${line}" is not KEY=VALUE`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

export function renderKustomization(dir: string): Rendered {
  const rendered: Rendered = { docs: [], filesRead: new Set(), fromExample: [] };
  renderInto(dir, rendered);
  return rendered;
}

function renderInto(dir: string, out: Rendered): void {
  const kfile = path.join(dir, 'kustomization.yaml');
  if (!fs.existsSync(kfile)) throw new Error(`${dir}: no kustomization.yaml`);
  out.filesRead.add(kfile);
  const [raw, ...extra] = loadYamlDocuments(kfile);
  if (extra.length > 0) throw new Error(`${kfile}: more than one document`);
  const parsed = kustomizationSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${kfile}: ${z.prettifyError(parsed.error)}`);
  const k = parsed.data;
  const docs: SourcedDoc[] = [];

  for (const entry of k.resources) {
    const target = path.resolve(dir, entry);
    if (!fs.existsSync(target)) throw new Error(`${kfile}: resources entry "${entry}" does not exist`);
    if (fs.statSync(target).isDirectory()) {
      const sub: Rendered = { docs: [], filesRead: out.filesRead, fromExample: out.fromExample };
      renderInto(target, sub);
      docs.push(...sub.docs);
    } else {
      out.filesRead.add(target);
      loadYamlDocuments(target).forEach((doc, i) =>
        docs.push({ source: `${path.relative(process.cwd(), target)}#${i}`, generated: false, doc }),
      );
    }
  }
  for (const g of k.configMapGenerator) {
    const data = generatorData(dir, kfile, g, out);
    docs.push(generated('ConfigMap', g.name, { data }));
  }
  for (const g of k.secretGenerator) {
    const data = generatorData(dir, kfile, g, out);
    const encoded = Object.fromEntries(
      Object.entries(data).map(([key, v]) => [key, Buffer.from(v).toString('base64')]),
    );
    docs.push(generated('Secret', g.name, { type: 'Opaque', data: encoded }));
  }
  for (const p of k.patches) {
    const file = path.resolve(dir, p.path);
    if (!fs.existsSync(file)) throw new Error(`${kfile}: patch "${p.path}" does not exist`);
    out.filesRead.add(file);
    for (const patch of loadYamlDocuments(file)) applyPatch(docs, patch, file);
  }
  for (const { doc } of docs) {
    for (const image of k.images) retagImages(doc, image);
    if (k.namespace !== undefined) setNamespace(doc, k.namespace);
  }
  out.docs.push(...docs);
}

function generated(kind: 'ConfigMap' | 'Secret', name: string, body: Doc): SourcedDoc {
  return {
    source: `generator:${name}`,
    generated: true,
    doc: { apiVersion: 'v1', kind, metadata: { name }, ...body },
  };
}

function generatorData(
  dir: string,
  kfile: string,
  g: z.infer<typeof generatorSchema>,
  out: Rendered,
): Record<string, string> {
  const data: Record<string, string> = {};
  for (const f of g.files ?? []) {
    const file = path.resolve(dir, f);
    if (!fs.existsSync(file)) throw new Error(`${kfile}: generator ${g.name}: file "${f}" does not exist`);
    out.filesRead.add(file);
    data[path.basename(file)] = fs.readFileSync(file, 'utf8');
  }
  for (const f of g.envs ?? []) {
    // A file of the user's secrets is git-ignored; its committed template stands in for it, so
    // the test never reads real secrets and works on a fresh checkout.
    const real = path.resolve(dir, f);
    const example = `${real}.example`;
    const file = fs.existsSync(example) ? example : real;
    if (!fs.existsSync(file)) throw new Error(`${kfile}: generator ${g.name}: "${f}" does not exist`);
    out.filesRead.add(file);
    if (file === example) out.fromExample.push(example);
    Object.assign(data, parseEnvFile(file));
  }
  return data;
}

function applyPatch(docs: SourcedDoc[], patch: Doc, file: string): void {
  const name = isRecord(patch.metadata) ? patch.metadata.name : undefined;
  const target = docs.find(
    ({ doc }) =>
      doc.apiVersion === patch.apiVersion &&
      doc.kind === patch.kind &&
      isRecord(doc.metadata) &&
      doc.metadata.name === name,
  );
  if (!target) throw new Error(`${file}: no ${String(patch.kind)} "${String(name)}" to patch`);
  strategicMerge(target.doc, patch, file);
}

/** Merges `patch` into `target` in place, as a strategic-merge patch would. */
function strategicMerge(target: Doc, patch: Doc, file: string): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (value === null) delete target[key];
    else if (isRecord(value) && isRecord(current)) strategicMerge(current, value, file);
    else if (Array.isArray(value) && Array.isArray(current) && key in MERGE_KEYS)
      target[key] = mergeList(current, value, MERGE_KEYS[key], file);
    else if (Array.isArray(value) && UNSUPPORTED_MERGED_LISTS.has(key))
      throw new Error(`${file}: patching "${key}" is not supported by the test's renderer`);
    else target[key] = value;
  }
}

function mergeList(current: unknown[], patch: unknown[], mergeKey: string, file: string): unknown[] {
  const result = [...current];
  for (const item of patch) {
    if (!isRecord(item)) throw new Error(`${file}: list item without "${mergeKey}"`);
    const existing = result.find((c) => isRecord(c) && c[mergeKey] === item[mergeKey]);
    if (isRecord(existing)) strategicMerge(existing, item, file);
    else result.push(item);
  }
  return result;
}

function retagImages(node: unknown, image: { name: string; newName?: string; newTag?: string }): void {
  if (Array.isArray(node)) {
    node.forEach((n) => retagImages(n, image));
    return;
  }
  if (!isRecord(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'image' && typeof value === 'string') {
      const colon = value.lastIndexOf(':');
      const repo = colon > value.lastIndexOf('/') ? value.slice(0, colon) : value;
      const tag = colon > value.lastIndexOf('/') ? value.slice(colon + 1) : undefined;
      if (repo !== image.name) continue;
      const newTag = image.newTag ?? tag;
      node[key] = `${image.newName ?? repo}${newTag === undefined ? '' : `:${newTag}`}`;
    } else retagImages(value, image);
  }
}

function setNamespace(doc: Doc, namespace: string): void {
  const metadata: Doc = isRecord(doc.metadata) ? doc.metadata : {};
  doc.metadata = metadata;
  // kustomize renames a Namespace object to the namespace it sets.
  if (doc.kind === 'Namespace') metadata.name = namespace;
  else if (!CLUSTER_SCOPED.has(String(doc.kind))) metadata.namespace = namespace;
}
