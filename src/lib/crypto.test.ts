import { describe, expect, it } from 'vitest';
import { newId, newTimeOrderedId, timeOfId } from './crypto.ts';

describe('time-ordered ids', () => {
  it('carry the millisecond they were issued in, and sort (as bytes) in time order', () => {
    const times = [
      0, 61, 62, 1_700_000_000_000, 1_700_000_000_001, 1_764_000_000_000, 3_500_000_000_000,
    ];
    const ids = times.map((t) => newTimeOrderedId('evt', t));
    for (const id of ids) expect(id).toMatch(/^evt_[A-Za-z0-9]{20}$/);
    expect(ids.map((id) => timeOfId('evt', id))).toEqual(times);
    const bytewise = [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(bytewise).toEqual(ids);
  });

  it('are unique within one millisecond', () => {
    const same = new Set(
      Array.from({ length: 10_000 }, () => newTimeOrderedId('evt', 1_700_000_000_000)),
    );
    expect(same.size).toBe(10_000);
  });

  it('read no time from other ids', () => {
    expect(timeOfId('arc', newTimeOrderedId('evt'))).toBeNull();
    expect(timeOfId('evt', newId('evt'))).toBeNull(); // 16 random characters: the older format
    expect(timeOfId('evt', 'evt_0000000-aaaaaaaaaaaa')).toBeNull();
    expect(timeOfId('evt', 'evt_00000000aaaaaaaaaaa!')).toBeNull();
  });
});
