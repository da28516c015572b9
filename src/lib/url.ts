/**
 * The WHATWG serialisation of an absolute URL (`new URL(s).href`): non-ASCII characters
 * percent-encoded as UTF-8, international host names in punycode. Pure ASCII, so it is always a
 * valid HTTP header value (`Location`). Null when `s` is not a URL.
 */
export function normalizeUrl(s: string): string | null {
  try {
    return new URL(s).href;
  } catch {
    return null;
  }
}
