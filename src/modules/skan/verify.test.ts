import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as V from './apple-vectors.ts';
import { decodeJws, skanSignedText, verifyAdAttributionKit, verifySkadnetwork } from './verify.ts';

const SKAN_VECTORS = {
  '4.0 fine': V.SKAN_4_0_FINE,
  '4.0 coarse': V.SKAN_4_0_COARSE,
  '3.0 winning': V.SKAN_3_0_WIN,
  '3.0 losing': V.SKAN_3_0_LOSE,
  '2.2': V.SKAN_2_2,
};
const parse = (s: string) => JSON.parse(s) as Record<string, unknown>;

/** The signed fields of each version (docs/spec/external-apis.md §7.3). */
const SIGNED: Record<string, string[]> = {
  '4.0': [
    'version',
    'ad-network-id',
    'source-identifier',
    'app-id',
    'transaction-id',
    'redownload',
    'source-domain',
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
};

/** A different value of the same type. */
const changed = (v: unknown) =>
  typeof v === 'boolean' ? !v : typeof v === 'number' ? v + 1 : `${v}`.slice(0, -1) + 'x';

describe('SKAdNetwork signatures', () => {
  it('the vectors are the spec’s bytes', () => {
    const spec = readFileSync('docs/spec/external-apis.md', 'utf8');
    for (const v of [...Object.values(SKAN_VECTORS), V.AAK_DEV_REENGAGEMENT])
      expect(spec).toContain(v);
  });

  for (const [name, json] of Object.entries(SKAN_VECTORS)) {
    it(`Apple's ${name} vector verifies with the P-256 key`, () => {
      expect(verifySkadnetwork(parse(json))).toEqual({
        verified: true,
        keyId: 'p256',
        development: false,
      });
    });

    it(`changing any signed value of the ${name} vector fails; the conversion values are not signed`, () => {
      const p = parse(json);
      const fields = SIGNED[p.version as string].filter((f) => f in p);
      expect(fields.length).toBeGreaterThanOrEqual(7);
      for (const f of fields) {
        const bad = { ...p, [f]: changed(p[f]) };
        expect(verifySkadnetwork(bad).verified, f).toBe(false);
        const { [f]: _gone, ...without } = p;
        expect(verifySkadnetwork(without).verified, `${f} removed`).toBe(false);
      }
      for (const f of ['conversion-value', 'coarse-conversion-value'])
        if (f in p) expect(verifySkadnetwork({ ...p, [f]: changed(p[f]) }).verified).toBe(true);
      const sig = p['attribution-signature'] as string;
      const flipped = sig.slice(0, 20) + (sig[20] === 'A' ? 'B' : 'A') + sig.slice(21);
      expect(verifySkadnetwork({ ...p, 'attribution-signature': flipped })).toMatchObject({
        verified: false,
      });
    });
  }

  it('joins the signed fields with U+2063, skipping absent ones, booleans and integers as text', () => {
    expect(skanSignedText(parse(V.SKAN_3_0_LOSE), '3.0')).toBe(
      [
        '3.0',
        'example123.skadnetwork',
        '42',
        '525463029',
        'f9ac267a-a889-44ce-b5f7-0166d11461f0',
        'true',
        '1',
        'false',
      ].join('\u2063'),
    );
  });

  it('names why a postback is unverified', () => {
    const p = parse(V.SKAN_4_0_FINE);
    expect(verifySkadnetwork({ ...p, version: '9.9' })).toEqual({
      verified: false,
      reason: 'unsupported_version',
    });
    const { 'attribution-signature': _s, ...unsigned } = p;
    expect(verifySkadnetwork(unsigned)).toMatchObject({ reason: 'missing_signature' });
    expect(verifySkadnetwork({ ...p, 'app-id': { x: 1 } })).toMatchObject({
      reason: 'malformed_signed_field',
    });
    expect(verifySkadnetwork({ ...p, 'transaction-id': 'x' })).toMatchObject({
      reason: 'bad_signature',
    });
    // 1.0 / 2.0 use the P-192 key: checked when this Node accepts the curve, else unverifiable.
    const legacy = verifySkadnetwork({ ...p, version: '2.0' });
    expect(legacy.verified).toBe(false);
    expect(['bad_signature', 'curve_unsupported', 'malformed_signature']).toContain(
      (legacy as { reason: string }).reason,
    );
  });
});

describe('AdAttributionKit signatures', () => {
  const body = parse(V.AAK_DEV_REENGAGEMENT);
  const jws = body['jws-string'] as string;

  it("Apple's vector verifies with apple-development-identifier/1 when development keys are allowed", () => {
    expect(verifyAdAttributionKit(jws, true)).toEqual({
      verified: true,
      keyId: 'apple-development-identifier/1',
      development: true,
    });
    expect(decodeJws(jws)?.payload).toEqual(parse(V.AAK_DECODED_PAYLOAD));
  });

  it('is refused with development keys off, and fails with the production key', () => {
    expect(verifyAdAttributionKit(jws, false)).toEqual({
      verified: false,
      reason: 'development_key_not_allowed',
    });
    const [h, p, s] = jws.split('.');
    const prodHeader = Buffer.from('{"kid":"apple-cas-identifier/0","alg":"ES256"}').toString(
      'base64url',
    );
    expect(verifyAdAttributionKit(`${prodHeader}.${p}.${s}`, true)).toMatchObject({
      verified: false,
      reason: 'bad_signature',
    });
    expect(h).not.toBe(prodHeader);
  });

  it('changing any signed payload value fails', () => {
    const [h, p, s] = jws.split('.');
    const payload = parse(Buffer.from(p, 'base64url').toString());
    for (const k of Object.keys(payload)) {
      const bad = Buffer.from(JSON.stringify({ ...payload, [k]: changed(payload[k]) })).toString(
        'base64url',
      );
      expect(verifyAdAttributionKit(`${h}.${bad}.${s}`, true).verified, k).toBe(false);
    }
    // One character of the payload text as received (the signing input is the text, not the JSON).
    const oneChar = p.slice(0, 10) + (p[10] === 'A' ? 'B' : 'A') + p.slice(11);
    expect(verifyAdAttributionKit(`${h}.${oneChar}.${s}`, true).verified).toBe(false);
    expect(verifyAdAttributionKit(`${h}.${p}.${s.slice(0, -2)}`, true)).toMatchObject({
      reason: 'malformed_signature',
    });
    expect(verifyAdAttributionKit('a.b', true)).toMatchObject({ reason: 'malformed_jws' });
    const noKid = Buffer.from('{"kid":"someone/0","alg":"ES256"}').toString('base64url');
    expect(verifyAdAttributionKit(`${noKid}.${p}.${s}`, true)).toMatchObject({
      reason: 'unknown_key_id',
    });
  });
});
