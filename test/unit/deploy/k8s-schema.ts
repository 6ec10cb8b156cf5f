import * as path from 'node:path';
import * as ts from 'typescript';
import type { Doc } from './kustomize';

/**
 * Two checks of a manifest against the Kubernetes API, both from the `kubernetes-models` package
 * (generated from the API's OpenAPI document):
 *  - `validate()` of the model for its apiVersion/kind: types, required fields, enums, formats;
 *  - its TypeScript interface, type-checked as an object literal: TypeScript rejects any field the
 *    API does not define, which the JSON schemas allow but `kubectl apply` (strict field
 *    validation) refuses. A misspelt `livenesProbe` or `dnsPolicy` would otherwise pass unseen.
 */

interface Validatable {
  validate(): void;
}

function isValidatable(v: unknown): v is Validatable {
  return typeof v === 'object' && v !== null && 'validate' in v && typeof v.validate === 'function';
}

/** The group/version path of kubernetes-models (`v1`, `apps/v1`, ...) or an error for unknown kinds. */
function modelModule(apiVersion: unknown, kind: unknown): { module: string; kind: string } {
  if (
    typeof apiVersion !== 'string' ||
    typeof kind !== 'string' ||
    !/^[A-Za-z0-9.]+(\/v[0-9a-z]+)?$/.test(apiVersion)
  )
    throw new Error(`not a Kubernetes object: apiVersion ${String(apiVersion)}, kind ${String(kind)}`);
  if (!/^[A-Z][A-Za-z0-9]*$/.test(kind)) throw new Error(`not a kind name: ${kind}`);
  return { module: `kubernetes-models/${apiVersion}`, kind };
}

/** Throws unless the document is a valid object of a kind the Kubernetes API knows. */
export function validateWithModel(doc: Doc): void {
  const { module, kind } = modelModule(doc.apiVersion, doc.kind);
  let exports: unknown;
  try {
    exports = require(module);
  } catch {
    throw new Error(`unknown apiVersion ${String(doc.apiVersion)}`);
  }
  const model: unknown =
    typeof exports === 'object' && exports !== null ? Reflect.get(exports, kind) : undefined;
  if (typeof model !== 'function') throw new Error(`unknown kind ${kind} in ${String(doc.apiVersion)}`);
  const instance: unknown = Reflect.construct(model, [doc]);
  if (!isValidatable(instance)) throw new Error(`${module} ${kind} is not a model`);
  instance.validate();
}

const ROOT = path.resolve(__dirname, '../../..');

/**
 * Fields the Kubernetes API does not define, or of the wrong type, one message per problem,
 * prefixed with the document's label. One TypeScript program for all documents.
 */
export function strictFieldErrors(docs: readonly { label: string; doc: Doc }[]): string[] {
  const files = new Map<string, { label: string; text: string }>();
  docs.forEach(({ label, doc }, i) => {
    const { module, kind } = modelModule(doc.apiVersion, doc.kind);
    const fileName = path.join(ROOT, 'test', 'unit', 'deploy', `__manifest_${i}.ts`);
    const text =
      `import type { I${kind} } from '${module}/${kind}';\n` +
      `export const manifest: I${kind} = ${JSON.stringify(doc, null, 2)};\n`;
    files.set(fileName, { label, text });
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2022.d.ts'],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
  };
  const host = ts.createCompilerHost(options);
  const realGetSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    const virtual = files.get(fileName);
    return virtual
      ? ts.createSourceFile(fileName, virtual.text, languageVersion)
      : realGetSourceFile(fileName, languageVersion, ...rest);
  };
  host.fileExists = (fileName) => files.has(fileName) || ts.sys.fileExists(fileName);
  host.readFile = (fileName) => files.get(fileName)?.text ?? ts.sys.readFile(fileName);
  const program = ts.createProgram([...files.keys()], options, host);
  const errors: string[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const virtual = d.file ? files.get(d.file.fileName) : undefined;
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (!d.file || !virtual) {
      errors.push(`(program) ${message}`);
      continue;
    }
    const line = d.file.getLineAndCharacterOfPosition(d.start ?? 0).line;
    errors.push(`${virtual.label}: ${message} (at: ${virtual.text.split('\n')[line].trim()})`);
  }
  return errors;
}
