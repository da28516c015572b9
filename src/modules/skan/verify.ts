/**
 * Signature verification of SKAdNetwork and AdAttributionKit postbacks
 * (docs/spec/external-apis.md §7.3, §7.4). Pure functions over Apple's published public keys.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

const spki = (b64: string): KeyObject | null => {
  try {
    return createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });
  } catch {
    return null; // a crypto stack that refuses the curve (P-192 on some builds)
  }
};

/** SKAdNetwork 2.1 and later; AdAttributionKit production (`apple-cas-identifier/0`). */
const P256 = spki(
  'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWdp8GPcGqmhgzEFj9Z2nSpQVddayaPe4FMzqM9wib1+aHaaIzoHoLN9zW4K8y4SPykE3YVK3sVqW6Af0lfx3gg==',
)!;
/** SKAdNetwork 1.0 and 2.0; null when this Node's OpenSSL refuses P-192. */
export const P192: KeyObject | null = spki(
  'MEkwEwYHKoZIzj0CAQYIKoZIzj0DAQEDMgAEMyHD625uvsmGq4C43cQ9BnfN2xslVT5V1nOmAMP6qaRRUll3PB1JYmgSm+62sosG',
);

/** AdAttributionKit keys by `kid`; `development` keys verify test postbacks only. */
const AAK_KEYS: Record<string, { key: KeyObject; development: boolean }> = {
  'apple-cas-identifier/0': { key: P256, development: false },
  'apple-development-identifier/0': {
    key: spki(
      'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAELeEDzpJEP+/qRSE5hJVC1p1J0ssUnQGMzBBbvnACBok8OVGGLgxL0myrKiy6lvRtSlLRsWit87i+vftD8AEqeQ==',
    )!,
    development: true,
  },
  'apple-development-identifier/1': {
    key: spki(
      'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8YzdO7eM97s/IJ25kdW5CZ3A14USE5IJ5Ha/vhWaxI6UBI1ZxCEvjrKxVluVGe6qWwF1BDFq+QHqKfH5u+wxHQ==',
    )!,
    development: true,
  },
};

/** The outcome: verified with a key, or not, with the reason (stored with the postback). */
export type Verification =
  | { verified: true; keyId: string; development: boolean }
  | { verified: false; reason: string };

const fail = (reason: string): Verification => ({ verified: false, reason });

/** Signed fields per SKAdNetwork version, in order (§7.3). `source-app-id|source-domain`: whichever is present. */
const FIELDS: Record<string, string[]> = {
  '4.0': [
    'version',
    'ad-network-id',
    'source-identifier',
    'app-id',
    'transaction-id',
    'redownload',
    'source-app-id|source-domain',
    'fidelity-type',
    'did-win',
    'postback-sequence-index',
  ],
  '3.0': [
    'version',
    'ad-network-id',
    'campaign-id',
    'app-id',
    'transaction-id',
    'redownload',
    'source-app-id',
    'fidelity-type',
    'did-win',
  ],
  '2.2': [
    'version',
    'ad-network-id',
    'campaign-id',
    'app-id',
    'transaction-id',
    'redownload',
    'source-app-id',
    'fidelity-type',
  ],
  '2.0': [
    'version',
    'ad-network-id',
    'campaign-id',
    'app-id',
    'transaction-id',
    'redownload',
    'source-app-id',
  ],
  '1.0': ['ad-network-id', 'campaign-id', 'app-id', 'transaction-id'],
};
const FIELDS_OF: Record<string, string[]> = { ...FIELDS, '2.1': FIELDS['2.0'] };

/** U+2063 INVISIBLE SEPARATOR. */
const SEPARATOR = '\u2063';

/** The SKAdNetwork version of a postback: its `version`, "1.0" when absent. */
export const skanVersion = (p: Record<string, unknown>): string =>
  typeof p.version === 'string' ? p.version : '1.0';

/**
 * The signed text of a SKAdNetwork postback (§7.3): absent fields skipped, booleans as
 * true/false, integers in decimal, strings as is; null when a signed field has another type.
 */
export function skanSignedText(p: Record<string, unknown>, version: string): string | null {
  const fields = FIELDS_OF[version];
  if (!fields) return null;
  const parts: string[] = [];
  for (const spec of fields) {
    const name = spec.split('|').find((n) => p[n] !== undefined && p[n] !== null);
    if (name === undefined) continue;
    const v = p[name];
    if (typeof v === 'boolean' || typeof v === 'string') parts.push(String(v));
    else if (typeof v === 'number' && Number.isSafeInteger(v)) parts.push(String(v));
    else return null;
  }
  return parts.join(SEPARATOR);
}

/** Verifies a SKAdNetwork postback's `attribution-signature` with its version's key. */
export function verifySkadnetwork(p: Record<string, unknown>): Verification {
  const version = skanVersion(p);
  if (!FIELDS_OF[version]) return fail('unsupported_version');
  const sig = p['attribution-signature'];
  if (typeof sig !== 'string' || sig === '') return fail('missing_signature');
  const text = skanSignedText(p, version);
  if (text === null) return fail('malformed_signed_field');
  const legacy = version === '1.0' || version === '2.0';
  const key = legacy ? P192 : P256;
  if (!key) return fail('curve_unsupported');
  let ok = false;
  try {
    ok = verify('sha256', Buffer.from(text, 'utf8'), key, Buffer.from(sig, 'base64'));
  } catch {
    return fail('malformed_signature');
  }
  return ok
    ? { verified: true, keyId: legacy ? 'p192' : 'p256', development: false }
    : fail('bad_signature');
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** The decoded header and payload of a compact JWS, without checking the signature; null when malformed. */
export function decodeJws(jws: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
} | null {
  const parts = jws.split('.');
  if (parts.length !== 3 || !parts.every((s) => B64URL.test(s))) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (!isObject(header) || !isObject(payload)) return null;
    return {
      header,
      payload,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2], 'base64url'),
    };
  } catch {
    return null;
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Verifies an AdAttributionKit `jws-string` (§7.4): ES256 over `header.payload` as received, the
 * signature raw R‖S (64 bytes), the key chosen by `kid`. Development keys only when allowed.
 */
export function verifyAdAttributionKit(jws: unknown, allowDevelopmentKeys: boolean): Verification {
  if (typeof jws !== 'string' || jws === '') return fail('missing_signature');
  const d = decodeJws(jws);
  if (!d) return fail('malformed_jws');
  if (d.header.alg !== 'ES256') return fail('unsupported_algorithm');
  const kid = d.header.kid;
  const entry = typeof kid === 'string' ? AAK_KEYS[kid] : undefined;
  if (!entry) return fail('unknown_key_id');
  if (entry.development && !allowDevelopmentKeys) return fail('development_key_not_allowed');
  if (d.signature.length !== 64) return fail('malformed_signature');
  const ok = verify(
    'sha256',
    Buffer.from(d.signingInput, 'ascii'),
    {
      key: entry.key,
      dsaEncoding: 'ieee-p1363',
    },
    d.signature,
  );
  return ok
    ? { verified: true, keyId: kid as string, development: entry.development }
    : fail('bad_signature');
}
