/**
 * Security headers of every page the server renders (docs/security.md). Pages carry no script of
 * their own: the click landing pages are static HTML with one inline style sheet; Swagger UI and the
 * dashboard load their scripts from this server only. No page may be framed.
 */

/** On every response: a browser never guesses a content type other than the one sent. */
export const NOSNIFF = { 'x-content-type-options': 'nosniff' } as const;

/** Static pages: no script at all, inline styles, images only inline. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Swagger UI and the dashboard: scripts, styles and calls to this server only (logos are data: images). */
export const SELF_SCRIPTS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The headers of an HTML response. */
export const htmlHeaders = (csp: string = PAGE_CSP) => ({
  ...NOSNIFF,
  'content-security-policy': csp,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
});
