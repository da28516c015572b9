/**
 * The small HTML pages of the tracking host: the landing page with store buttons (Google Ads
 * `/g/` links, desktops, platforms without a destination) and the "link not found" page.
 * No scripts, no external assets: fast, accessible and safe to show to crawlers.
 */

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f6f7f9;color:#16181d}
main{max-width:28rem;margin:12vh auto;padding:2rem 1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px #0002;text-align:center}
h1{font-size:1.5rem;margin:0 0 .5rem}p{margin:.5rem 0 1.5rem;color:#3d424d}
ul{list-style:none;margin:0;padding:0;display:grid;gap:.75rem}
a.store{display:block;padding:.85rem 1rem;border-radius:8px;background:#16181d;color:#fff;font-weight:600;text-decoration:none}
a.store:focus-visible{outline:3px solid #2f6fed;outline-offset:2px}a.web{color:#1f4fbf}
@media (prefers-color-scheme:dark){body{background:#111318;color:#eceef2}main{background:#1b1e25;box-shadow:none}p{color:#b7bcc7}a.store{background:#eceef2;color:#111318}a.web{color:#8fb0ff}}
`.replace(/\n/g, '');

function page(title: string, body: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>` +
    `<body><main>${body}</main></body></html>`
  );
}

export type LandingButtons = {
  appName: string;
  appStoreUrl: string | null;
  playUrl: string | null;
  webUrl: string | null;
};

/** The landing page: one button per store the app is in, and the website when there is one. */
export function landingPage(b: LandingButtons): string {
  const items: string[] = [];
  if (b.appStoreUrl)
    items.push(
      `<li><a class="store" href="${escapeHtml(b.appStoreUrl)}">Download on the App Store</a></li>`,
    );
  if (b.playUrl)
    items.push(
      `<li><a class="store" href="${escapeHtml(b.playUrl)}">Get it on Google Play</a></li>`,
    );
  if (b.webUrl)
    items.push(
      `<li><a class="web" href="${escapeHtml(b.webUrl)}">Continue to the website</a></li>`,
    );
  const name = escapeHtml(b.appName);
  const intro =
    b.appStoreUrl || b.playUrl
      ? `Get ${name} for your phone.`
      : `${name} is not in an app store yet.`;
  const nav = items.length ? `<nav aria-label="Download"><ul>${items.join('')}</ul></nav>` : '';
  return page(b.appName, `<h1>${name}</h1><p>${intro}</p>${nav}`);
}

/** Unknown, deleted or not yet configured link. */
export function notFoundPage(reason: 'unknown' | 'unconfigured' | 'unavailable'): string {
  switch (reason) {
    case 'unknown':
      return page(
        'Link not found',
        '<h1>Link not found</h1><p>This link does not exist or is no longer active. Check the address, or ask whoever shared it for a new one.</p>',
      );
    case 'unconfigured':
      return page(
        'Link not set up yet',
        '<h1>This link is not set up yet</h1><p>The app behind this link has no App Store, Google Play or web address configured. Its owner can add one in the app settings.</p>',
      );
    case 'unavailable':
      return page(
        'Try again',
        '<h1>Please try again</h1><p>This link could not be opened just now. Reload the page in a moment.</p>',
      );
  }
}
