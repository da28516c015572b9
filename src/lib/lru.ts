/**
 * A bounded least-recently-used map: a read moves the entry to the young end, a write past
 * `max` evicts the oldest. Optional per-entry expiry (a stale entry reads as absent).
 */
export class Lru<K, V> {
  private readonly map = new Map<K, { value: V; expiresAt: number }>();

  constructor(readonly max: number) {}

  get(key: K, now = Date.now()): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    if (e.expiresAt <= now) return undefined;
    this.map.set(key, e);
    return e.value;
  }

  has(key: K, now = Date.now()): boolean {
    return this.get(key, now) !== undefined;
  }

  set(key: K, value: V, ttlMs = Infinity, now = Date.now()): void {
    this.map.delete(key);
    this.map.set(key, { value, expiresAt: now + ttlMs });
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** Deletes every entry whose value matches. */
  deleteWhere(match: (value: V, key: K) => boolean): void {
    for (const [k, e] of this.map) if (match(e.value, k)) this.map.delete(k);
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  get size(): number {
    return this.map.size;
  }
}
