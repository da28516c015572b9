/**
 * Failed credentials (unknown, revoked or malformed API keys; unknown or expired session cookies)
 * per client IP in fixed one-minute windows. Over the limit, that IP gets 429 until its window
 * ends, before any database lookup: guessing keys costs a scanner a minute per few attempts and
 * the database nothing. In process and bounded; several server processes each count on their own.
 *
 * A shared address (an office NAT, a CI runner) must not lock out everyone behind it because one
 * script holds a revoked key: credentials that were valid here in the last VOUCH_MS ("vouched",
 * kept as SHA-256 digests) still pass from a blocked address. A scanner cannot use that: it holds
 * no valid credential. A credential that fails is no longer vouched for.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  /** Digest (hex) of a credential that was valid → until when it passes a blocked address. */
  private readonly vouched = new Map<string, number>();

  constructor(
    private readonly limit: number,
    private readonly windowMs = 60_000,
    private readonly maxClients = 100_000,
  ) {}

  /** Seconds until this IP may present a credential again; 0 when it may now. */
  blockedFor(ip: string, now = Date.now()): number {
    const w = this.windows.get(ip);
    if (!w) return 0;
    if (w.resetAt <= now) {
      this.windows.delete(ip);
      return 0;
    }
    return w.count >= this.limit ? Math.ceil((w.resetAt - now) / 1000) : 0;
  }

  fail(ip: string, now = Date.now()): void {
    let w = this.windows.get(ip);
    if (!w || w.resetAt <= now) {
      if (this.windows.size >= this.maxClients) this.prune(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(ip, w);
    }
    w.count++;
  }

  /** A credential found valid: it passes blocked addresses for the next VOUCH_MS. */
  vouch(digest: string, now = Date.now()): void {
    if (this.vouched.size >= MAX_VOUCHED) {
      for (const [d, until] of this.vouched) if (until <= now) this.vouched.delete(d);
      if (this.vouched.size >= MAX_VOUCHED) this.vouched.delete(this.vouched.keys().next().value!);
    }
    this.vouched.delete(digest); // re-inserted last: the map's order is the eviction order
    this.vouched.set(digest, now + VOUCH_MS);
  }

  isVouched(digest: string, now = Date.now()): boolean {
    const until = this.vouched.get(digest);
    return until !== undefined && until > now;
  }

  forget(digest: string): void {
    this.vouched.delete(digest);
  }

  private prune(now: number) {
    for (const [ip, w] of this.windows) if (w.resetAt <= now) this.windows.delete(ip);
    // Still full (a flood from very many addresses): forget the oldest windows.
    for (const ip of this.windows.keys()) {
      if (this.windows.size < this.maxClients) break;
      this.windows.delete(ip);
    }
  }
}

/** How long a credential found valid passes a blocked address. */
const VOUCH_MS = 10 * 60_000;
const MAX_VOUCHED = 50_000;
