import { BlockList, isIPv6 } from 'node:net';

/** Whether an address is one of the configured trusted proxies. */
export type TrustProxy = (address: string) => boolean;

// proxy-addr's named ranges, so TRUSTED_PROXIES means what it meant when Fastify read it.
const NAMED: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * TRUSTED_PROXIES (IPs, CIDRs, or loopback / linklocal / uniquelocal) as a check. IPv4 (also
 * IPv4-mapped IPv6) is compared as a number against each range; IPv6 goes to node's BlockList,
 * which allocates per check and would cost more than the rest of a redirect's IP handling.
 * Used by Fastify (trustProxy) and by the click path alike.
 */
export function compileTrustProxy(entries: string[]): TrustProxy {
  const v4: [network: number, mask: number][] = [];
  const v6 = new BlockList();
  for (const entry of entries.flatMap((e) => NAMED[e] ?? [e])) {
    const [address, bits] = entry.split('/');
    const prefix = bits === undefined ? undefined : Number(bits);
    const n = ipv4Number(address);
    if (
      n !== null &&
      (prefix === undefined || (Number.isInteger(prefix) && prefix >= 0 && prefix <= 32))
    ) {
      const mask =
        prefix === undefined || prefix === 32
          ? 0xffffffff
          : prefix === 0
            ? 0
            : (0xffffffff << (32 - prefix)) >>> 0;
      v4.push([(n & mask) >>> 0, mask]);
      continue;
    }
    try {
      if (!isIPv6(address)) throw new Error('not an address');
      if (prefix === undefined) v6.addAddress(address, 'ipv6');
      else v6.addSubnet(address, prefix, 'ipv6');
    } catch {
      throw new Error(`TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR range`);
    }
  }
  return (address) => {
    const n = ipv4Number(address.startsWith('::ffff:') ? address.slice(7) : address);
    if (n !== null) {
      for (const [network, mask] of v4) if ((n & mask) >>> 0 === network) return true;
      return false;
    }
    return address.includes(':') && isIPv6(address) && v6.check(address, 'ipv6');
  };
}

/** A dotted-quad IPv4 address as an unsigned 32-bit number, else null. */
function ipv4Number(s: string): number | null {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      // '.'
      if (digits === 0 || ++dots > 3) return null;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return null;
    } else {
      return null;
    }
  }
  return dots === 3 && digits > 0 ? n * 256 + part : null;
}

/**
 * The client's address: X-Forwarded-For is read from the right for as long as each hop is a
 * trusted proxy (the rule of proxy-addr, which Fastify uses), so a client cannot forge its address
 * by sending the header itself.
 */
export function clientIp(
  socketAddress: string,
  forwardedFor: string | string[] | undefined,
  trust: TrustProxy,
): string {
  if (!forwardedFor || !trust(socketAddress)) return socketAddress;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  let address = socketAddress;
  for (let i = hops.length - 1; i >= 0; i--) {
    address = hops[i].trim();
    if (!trust(address)) return address;
  }
  return address;
}
