import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { onUnhandledRejection } from './runtime.ts';

describe('an unhandled rejection in apprefer serve', () => {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
  const handle = onUnhandledRejection(log);

  it('is logged when a query lost its database connection (EPIPE, reset, closed)', () => {
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' });
    expect(() => handle(epipe)).not.toThrow();
    expect(() =>
      handle(Object.assign(new Error('closed'), { code: 'CONNECTION_CLOSED' })),
    ).not.toThrow();
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 40, err: { code: 'EPIPE' } });
  });

  it('still ends the process for anything else', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    expect(() => handle(bug)).toThrow(bug);
    expect(() => handle(Object.assign(new Error('syntax'), { code: '42601' }))).toThrow();
  });
});
