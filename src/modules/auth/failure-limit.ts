/**
 * Failed credentials (unknown, revoked or malformed API keys; unknown or expired session cookies)
 * per client IP in fixed one-minute windows. Over the limit, that IP gets 429 for any credential
 * until its window ends, before any database lookup: guessing keys costs a scanner a minute per
 * few attempts and the database nothing. In process and bounded; several server processes each
 * count on their own.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

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

  private prune(now: number) {
    for (const [ip, w] of this.windows) if (w.resetAt <= now) this.windows.delete(ip);
    // Still full (a flood from very many addresses): forget the oldest windows.
    for (const ip of this.windows.keys()) {
      if (this.windows.size < this.maxClients) break;
      this.windows.delete(ip);
    }
  }
}
