import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.ts';
import { clientIp, compileTrustProxy } from './client-ip.ts';

describe('trusted proxies', () => {
  it('match IPs, CIDRs and named ranges, IPv4-mapped IPv6 as IPv4', () => {
    const trust = compileTrustProxy(['127.0.0.1', '10.0.0.0/8', '2001:db8::/32', 'linklocal']);
    expect(trust('127.0.0.1')).toBe(true);
    expect(trust('::ffff:127.0.0.1')).toBe(true);
    expect(trust('127.0.0.2')).toBe(false);
    expect(trust('10.255.3.4')).toBe(true);
    expect(trust('11.0.0.1')).toBe(false);
    expect(trust('169.254.10.1')).toBe(true);
    expect(trust('fe80::1')).toBe(true);
    expect(trust('2001:db8:1::5')).toBe(true);
    expect(trust('2001:db9::5')).toBe(false);
    for (const junk of [
      '',
      'x',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '1..2.3',
      '01234.1.1.1',
      '::ffff:',
      '[::1]',
    ])
      expect(trust(junk)).toBe(false);
    expect(compileTrustProxy(['0.0.0.0/0'])('203.0.113.9')).toBe(true);
    expect(compileTrustProxy(['loopback'])('127.9.9.9')).toBe(true);
    expect(compileTrustProxy(['loopback'])('::1')).toBe(true);
  });

  it('name a bad TRUSTED_PROXIES entry', () => {
    expect(() => compileTrustProxy(['10.0.0.0/33'])).toThrow(/TRUSTED_PROXIES: "10.0.0.0\/33"/);
    expect(() => compileTrustProxy(['proxy.example.com'])).toThrow(/TRUSTED_PROXIES/);
    const env = { DATA_DIR: '/tmp/apprefer-config-test', SECRET_KEY: 'x'.repeat(40) };
    expect(() => loadConfig({ ...env, TRUSTED_PROXIES: '127.0.0.1, proxy.example.com' })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ ...env, TRUSTED_PROXIES: '127.0.0.1, proxy.example.com' })).toThrow(
      /TRUSTED_PROXIES: "proxy.example.com"/,
    );
    expect(loadConfig({ ...env, TRUSTED_PROXIES: '10.0.0.0/8, loopback' }).trustedProxies).toEqual([
      '10.0.0.0/8',
      'loopback',
    ]);
  });
});

describe('client address', () => {
  const trust = compileTrustProxy(['127.0.0.1', '10.0.0.0/8']);
  it('reads X-Forwarded-For from the right while hops are trusted proxies', () => {
    expect(clientIp('127.0.0.1', '203.0.113.9', trust)).toBe('203.0.113.9');
    expect(clientIp('127.0.0.1', '198.51.100.1, 203.0.113.9, 10.1.1.1', trust)).toBe('203.0.113.9');
    expect(clientIp('127.0.0.1', '10.2.2.2, 10.1.1.1', trust)).toBe('10.2.2.2'); // all trusted: the farthest
  });
  it('ignores X-Forwarded-For from anyone else', () => {
    expect(clientIp('198.51.100.7', '203.0.113.9', trust)).toBe('198.51.100.7');
    expect(clientIp('127.0.0.1', undefined, trust)).toBe('127.0.0.1');
  });
});
