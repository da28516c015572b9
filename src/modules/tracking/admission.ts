/**
 * Load shedding for the SDK endpoints (issue 10, defect 7). A request is admitted before its body
 * is read, against two budgets held until its response is finished or its connection closes:
 * the number of SDK requests in flight, and their declared body bytes (`Content-Length`; a body
 * without one counts as the 1 MiB limit). A request over either budget gets `503` +
 * `Retry-After` at once (docs/spec/sdk-protocol.md §3.7: the SDKs retry it; never a 429), so a
 * flood of big events slows its senders down instead of exhausting the heap (a 1 MiB event costs
 * about 3 MB of heap while it is parsed and queued).
 */
import { MAX_BODY_BYTES } from '../../http/types.ts';

export type AdmissionLimits = { maxRequests: number; maxBytes: number };

export const DEFAULT_ADMISSION: AdmissionLimits = {
  maxRequests: 4_000,
  maxBytes: 64 * 1024 * 1024,
};

export class Admission {
  private requests = 0;
  private bytes = 0;

  constructor(private readonly limits: AdmissionLimits = DEFAULT_ADMISSION) {}

  /** What is held now (0 and 0 when idle). */
  get inFlight() {
    return { requests: this.requests, bytes: this.bytes };
  }

  /** Takes room for a request with this `Content-Length` header; returns its release, or null when full. */
  admit(contentLength: string | undefined): (() => void) | null {
    const declared = Number(contentLength);
    const bytes =
      contentLength !== undefined && Number.isSafeInteger(declared) && declared >= 0
        ? Math.min(declared, MAX_BODY_BYTES + 1)
        : MAX_BODY_BYTES;
    if (
      this.requests + 1 > this.limits.maxRequests ||
      (this.bytes + bytes > this.limits.maxBytes && this.requests > 0)
    )
      return null;
    this.requests++;
    this.bytes += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.requests--;
      this.bytes -= bytes;
    };
  }
}
