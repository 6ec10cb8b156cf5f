import type { PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { BadRequestError, UnprocessableError } from './errors';

/**
 * Issue codes that mean "this is not the shape we asked for" (wrong type, missing field,
 * unknown field): 400. Every other issue is a well-formed value we cannot accept (out of range,
 * not one of the allowed values, bad format): 422. See docs/api.md "Validation".
 */
const SHAPE_ISSUES = new Set([
  'invalid_type',
  'unrecognized_keys',
  'invalid_union',
  'invalid_key',
  'invalid_element',
]);

/** Parses a value with a zod schema; throws BadRequestError (400) or UnprocessableError (422). */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues;
  const message = issues
    .map((i) => {
      const where = i.path.length ? i.path.join('.') : 'body';
      return `${where}: ${i.message}`;
    })
    .join('; ');
  // A missing required field is a shape problem too, whatever issue code the schema reports.
  if (issues.some((i) => SHAPE_ISSUES.has(i.code) || valueAt(value, i.path) === undefined))
    throw new BadRequestError(message);
  throw new UnprocessableError(message);
}

function valueAt(value: unknown, path: PropertyKey[]): unknown {
  let v = value;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** `@Body(new ZodValidationPipe(schema))`: the one way request bodies are validated. */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    return parseOrThrow(this.schema, value);
  }
}

/** The OpenAPI 3.0 schema of a zod schema, for @ApiBody / @ApiResponse. */
export function openApiSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
}
