import type { ApiInstance } from '../../http/types.ts';
import type { Services } from '../../services.ts';

/** The dashboard's entry page. The full dashboard is a later module; this page links the API and docs. */
export async function dashboardRoutes(app: ApiInstance, { config }: Services) {
  app.get('/', { schema: { hide: true } }, async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>AppRefer-compatible attribution</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2933}code{background:#f1f5f9;padding:.1rem .3rem;border-radius:4px}</style>
</head><body>
<h1>Attribution platform</h1>
<p>The server is running. The dashboard is coming; meanwhile everything is available through the REST API.</p>
<ul>
<li><a href="/api/v1/docs">API reference (Swagger UI)</a> · <a href="/openapi.yaml">openapi.yaml</a></li>
<li>SDK base URLs: API <code>${escapeHtml(config.publicUrl)}</code>, tracking <code>${escapeHtml(config.trackingUrl)}</code></li>
<li>First run: <code>POST /api/v1/auth/setup</code> or <code>npx apprefer setup --org NAME --email E --password P</code></li>
</ul>
</body></html>`;
  });
}

export const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
