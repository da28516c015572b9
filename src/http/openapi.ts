import { ERROR_STATUSES } from './errors.ts';

type Json = Record<string, any>;
const SCHEMA_REF = '#/components/schemas/';
const INPUT = 'Input';

/**
 * The document as served, from what fastify-type-provider-zod generates: the hand-written paths
 * of modules added, each component schema listed once, every response described.
 *
 * The provider lists every registered zod schema twice, as it validates input (`AppCreateInput`)
 * and as it is sent (`AppCreate`), used or not. Kept here: the schemas an operation reaches, each
 * under its plain name; an `…Input` variant keeps its suffix only where the output variant is
 * reached too and differs from it (defaults and transforms make them differ).
 */
export function finishDocument(doc: Json, extraPaths: Record<string, object>): Json {
  const paths: Json = { ...doc.paths, ...extraPaths };
  const schemas: Json = doc.components?.schemas ?? {};
  const reached = reachable(paths, schemas);

  const rename = new Map<string, string>();
  for (const id of reached) {
    if (!id.endsWith(INPUT)) continue;
    const plain = id.slice(0, -INPUT.length);
    if (!(plain in schemas)) continue;
    if (!reached.has(plain) || JSON.stringify(schemas[id]) === JSON.stringify(schemas[plain]))
      rename.set(id, plain);
  }
  const renamed = (id: string) => rename.get(id) ?? id;
  const rewrite = (v: unknown): any => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (!v || typeof v !== 'object') return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] =
        k === '$ref' && typeof x === 'string' && x.startsWith(SCHEMA_REF)
          ? SCHEMA_REF + renamed(x.slice(SCHEMA_REF.length))
          : rewrite(x);
    }
    return out;
  };

  const kept: Json = {};
  for (const id of Object.keys(schemas))
    if (reached.has(id)) kept[renamed(id)] ??= rewrite(schemas[id]);
  return {
    ...doc,
    paths: describeResponses(rewrite(paths)),
    components: {
      ...doc.components,
      schemas: Object.fromEntries(Object.entries(kept).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}

/** The ids of the component schemas that the paths reach, directly or through other schemas. */
function reachable(paths: Json, schemas: Json): Set<string> {
  const seen = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string' && x.startsWith(SCHEMA_REF)) {
        const id = x.slice(SCHEMA_REF.length);
        if (!seen.has(id)) {
          seen.add(id);
          walk(schemas[id]);
        }
      } else walk(x);
    }
  };
  walk(paths);
  return seen;
}

const SUCCESS: Record<string, string> = { 200: 'OK', 201: 'Created', 204: 'No content' };

/** Replaces Fastify's "Default Response" with what the status means (errors: http/errors.ts ERROR_STATUSES). */
function describeResponses(paths: Json): Json {
  for (const ops of Object.values(paths)) {
    for (const op of Object.values(ops as Json)) {
      for (const [status, response] of Object.entries((op as Json)?.responses ?? {})) {
        const r = response as Json;
        if (r.description !== 'Default Response') continue;
        r.description =
          SUCCESS[status] ??
          ERROR_STATUSES[Number(status) as keyof typeof ERROR_STATUSES] ??
          r.description;
      }
    }
  }
  return paths;
}

const PRODUCT = 'AppRefer-compatible attribution platform';

// The product's mark and name for the Swagger UI top bar (instead of the Swagger logo): inline, no asset to fetch.
const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="360" height="40" viewBox="0 0 360 40">
<circle cx="20" cy="20" r="16" fill="none" stroke="#7dd3fc" stroke-width="3"/><circle cx="20" cy="20" r="5" fill="#7dd3fc"/>
<path d="M20 4v8M20 28v8M4 20h8M28 20h8" stroke="#7dd3fc" stroke-width="3"/>
<text x="46" y="26" font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif" font-size="18" font-weight="600" fill="#ffffff">${PRODUCT}</text>
</svg>`;

const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40">
<circle cx="20" cy="20" r="16" fill="#0f172a" stroke="#0284c7" stroke-width="3"/><circle cx="20" cy="20" r="5" fill="#0284c7"/>
</svg>`;

/** @fastify/swagger-ui options: the page carries the product's name and mark. */
export const DOCS_PAGE = {
  logo: {
    type: 'image/svg+xml',
    content: Buffer.from(LOGO_SVG),
    href: '/api/v1/docs',
    target: '_self' as const,
  },
  theme: {
    title: `API reference · ${PRODUCT}`,
    favicon: [
      {
        filename: 'favicon.svg',
        rel: 'icon',
        sizes: 'any',
        type: 'image/svg+xml',
        content: Buffer.from(FAVICON_SVG),
      },
    ],
  },
};

export const OPENAPI_TITLE = `${PRODUCT} API`;
