/**
 * The validator of every zod route schema (body, query string, path parameters): the shared text
 * rule first — no string or key may hold a NUL (U+0000), which PostgreSQL text and jsonb refuse —
 * then the route's zod schema. A NUL anywhere is a 400 naming the field, for every route at once.
 */
import type { FastifySchemaCompiler } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { findNul, NUL_MESSAGE } from '../lib/text.ts';
import { validationError } from './errors.ts';

export const nulRefusingValidatorCompiler: FastifySchemaCompiler<
  Parameters<typeof validatorCompiler>[0]['schema']
> = (route) => {
  const validate = validatorCompiler(route);
  return (data: unknown) => {
    const path = findNul(data, '');
    if (path !== null)
      return { error: validationError(path || route.httpPart || 'body', NUL_MESSAGE) };
    return validate(data);
  };
};
