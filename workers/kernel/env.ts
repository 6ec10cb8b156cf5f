import type { z } from 'zod';

/**
 * Parses a process's environment with a zod object schema, the way every process of the project
 * does it: empty strings count as unset (`FOO= npm start` means "default", not "invalid"), only
 * the schema's own variables are read, and every bad variable is named in one message. Each
 * process kind has one config module that calls this once at boot.
 */
export function parseEnvironment<S extends z.ZodObject>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): { ok: true; value: z.infer<S> } | { ok: false; message: string } {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') cleaned[key] = v;
  }
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return { ok: true, value: parsed.data };
  const lines = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
  return { ok: false, message: `Invalid configuration:\n  ${lines.join('\n  ')}` };
}
