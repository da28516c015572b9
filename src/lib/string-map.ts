/** Maps of the wire protocol are flat string → string: nulls dropped, scalars stringified. */
export function flatStringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null); // a "__proto__" key stays an ordinary key
  if (!v || typeof v !== 'object' || Array.isArray(v)) return out;
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val === 'string') out[k] = val;
    else if (typeof val === 'number' && Number.isFinite(val)) out[k] = String(val);
    else if (typeof val === 'boolean') out[k] = String(val);
  }
  return out;
}
