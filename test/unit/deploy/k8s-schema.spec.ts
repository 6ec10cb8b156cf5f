import { strictFieldErrors, validateWithModel } from './k8s-schema';

/** The two schema checks that manifests.spec.ts relies on reject what they should, and only that. */
const pod = (container: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p' },
  spec: { containers: [{ name: 'c', image: 'i', ...container }] },
});

describe('Kubernetes schema checks', () => {
  it('validateWithModel rejects a kind or an apiVersion the API does not have', () => {
    expect(() => validateWithModel({ apiVersion: 'apps/v1', kind: 'DeamonSet' })).toThrow(/unknown kind/);
    expect(() => validateWithModel({ apiVersion: 'example.com/v1', kind: 'Widget' })).toThrow(
      /unknown apiVersion/,
    );
  });

  it('validateWithModel rejects a wrong type and accepts a valid Pod', () => {
    expect(() => validateWithModel(pod({ ports: [{ containerPort: 'http' }] }))).toThrow(/containerPort/);
    expect(() => validateWithModel(pod({ ports: [{ name: 'http', containerPort: 3000 }] }))).not.toThrow();
  });

  it('strictFieldErrors rejects a field the API does not define and accepts a valid Pod', () => {
    const docs = [
      { label: 'misspelt', doc: pod({ livenesProbe: {} }) },
      { label: 'valid', doc: pod({ livenessProbe: { httpGet: { path: '/healthz', port: 'http' } } }) },
    ];
    expect(strictFieldErrors(docs)).toEqual([
      expect.stringMatching(/^misspelt: .*'"livenesProbe"' does not exist in type 'IContainer'/),
    ]);
  });
});
