import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  scrypt as scryptCb,
  timingSafeEqual,
} from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (
  pw: string,
  salt: Buffer,
  len: number,
  opts: object,
) => Promise<Buffer>;

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// CSPRNG bytes drawn in blocks (each byte used once): one randomBytes call per ~200 ids instead
// of one per id, which mattered on the hot paths (a request id and a click id per redirect).
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** Random string over [A-Za-z0-9] without modulo bias. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    if (poolOffset >= pool.length) {
      pool = randomBytes(4096);
      poolOffset = 0;
    }
    const b = pool[poolOffset++];
    if (b < 248) out += BASE62[b % 62];
  }
  return out;
}

export const randomHex = (chars: number) =>
  randomBytes(Math.ceil(chars / 2))
    .toString('hex')
    .slice(0, chars);

/** Typed, opaque ids: `app_3f9c1a7e5b2`, `key_…`, `ses_…`. */
export const newId = (prefix: string, length = 16) => `${prefix}_${randomBase62(length)}`;

// Byte order ("C" collation) of the digits: 0-9 < A-Z < a-z.
const SORTED_BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TIME_CHARS = 7;
const RANDOM_CHARS = 13;
let timePrefixMs = -1;
let timePrefix = '';

/**
 * Ids of rows written thousands a second (`arc_…` clicks, `evt_…` events, `att_…` attributions):
 * 7 characters of the time in milliseconds (in order until the year 2081), then 13 random ones
 * (~77 bits; unguessable). New rows then land on the right-most pages of the primary key instead of
 * random ones: in a table of millions, a random key touches a page of its own per row, which is a
 * full-page image in the WAL after each checkpoint and, once the index outgrows memory, a read
 * (docs/sdk-ingestion.md, "Ids in time order").
 */
export function newTimeOrderedId(prefix: string, now = Date.now()): string {
  if (now !== timePrefixMs) {
    let t = now;
    let s = '';
    for (let i = 0; i < TIME_CHARS; i++) {
      s = SORTED_BASE62[t % 62] + s;
      t = Math.floor(t / 62);
    }
    timePrefixMs = now;
    timePrefix = s;
  }
  return `${prefix}_${timePrefix}${randomBase62(RANDOM_CHARS)}`;
}

/** When an id of `newTimeOrderedId` with this prefix was issued (ms since the epoch), or null. */
export function timeOfId(prefix: string, id: string): number | null {
  const start = prefix.length + 1; // after `prefix_`
  if (id.length !== start + TIME_CHARS + RANDOM_CHARS || !id.startsWith(`${prefix}_`)) return null;
  let t = 0;
  for (let i = start; i < start + TIME_CHARS; i++) {
    const digit = SORTED_BASE62.indexOf(id[i]);
    if (digit < 0) return null;
    t = t * 62 + digit;
  }
  for (let i = start + TIME_CHARS; i < id.length; i++) if (!BASE62.includes(id[i])) return null;
  return t;
}

export const sha256 = (input: string | Buffer) => createHash('sha256').update(input).digest();
export const sha256Hex = (input: string | Buffer) =>
  createHash('sha256').update(input).digest('hex');
export const hmac = (key: Buffer, input: string) =>
  createHmac('sha256', key).update(input).digest();

export function safeEqual(a: Buffer | string, b: Buffer | string): boolean {
  const ab = typeof a === 'string' ? Buffer.from(a) : a;
  const bb = typeof b === 'string' ? Buffer.from(b) : b;
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab); // keep the timing similar for unequal lengths
    return false;
  }
  return timingSafeEqual(ab, bb);
}

// scrypt with N=2^15 (~50 ms here): slow enough for passwords, fine for a login.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return safeEqual(actual, expected);
}

/** AES-256-GCM for secrets stored at rest (integration tokens, webhook secrets). */
export function encryptSecret(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sha256(key), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [
    'v1',
    iv.toString('base64'),
    cipher.getAuthTag().toString('base64'),
    body.toString('base64'),
  ].join('.');
}

export function decryptSecret(key: Buffer, stored: string): string {
  const [v, iv, tag, body] = stored.split('.');
  if (v !== 'v1' || !iv || !tag || body === undefined) throw new Error('unknown secret format');
  const decipher = createDecipheriv('aes-256-gcm', sha256(key), Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString(
    'utf8',
  );
}
