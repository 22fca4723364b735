import { describe, expect, it } from 'vitest';
import { filterFromParams, parseTime } from '../../src/helpers/query-params.js';

const NOW = Date.parse('2026-06-15T12:00:00Z');

describe('parseTime', () => {
  it('reads now, offsets, RFC 3339 and epoch milliseconds', () => {
    expect(parseTime('now', NOW).getTime()).toBe(NOW);
    expect(parseTime('-1h', NOW).getTime()).toBe(NOW - 3_600_000);
    expect(parseTime('+30m', NOW).getTime()).toBe(NOW + 1_800_000);
    expect(parseTime('2024-02-29T10:00:00+02:00', NOW).toISOString()).toBe('2024-02-29T08:00:00.000Z');
    expect(parseTime('1700000000000', NOW).getTime()).toBe(1_700_000_000_000);
  });

  it('refuses a time a Date cannot hold with an error naming it, not an Invalid Date', () => {
    for (const t of ['-99999999999999999999d', '+9999999999w', '99999999999999999999']) {
      expect(() => parseTime(t, NOW), t).toThrow(`time "${t}" is out of range`);
    }
    // the edge of the range still parses
    expect(parseTime('8640000000000000', NOW).getTime()).toBe(8.64e15);
  });

  it('refuses a day past the end of its month, which Date.parse would move into the next', () => {
    for (const t of ['2021-02-29', '2021-02-30T00:00:00Z', '2024-04-31T00:00:00Z', '2024-13-01T00:00:00Z', '2024-00-10']) {
      expect(() => parseTime(t, NOW), t).toThrow(/invalid time/);
    }
    expect(parseTime('2024-02-29', NOW).toISOString()).toBe('2024-02-29T00:00:00.000Z');
    expect(parseTime('2024-12-31T23:59:59Z', NOW).toISOString()).toBe('2024-12-31T23:59:59.000Z');
  });
});

describe('filterFromParams limits', () => {
  it('a minimum refuses limit=0 where 0 cannot mean "all" (the API), and the CLI keeps 0', () => {
    expect(() => filterFromParams({ limit: '0' }, { minLimit: 1 })).toThrow('limit 0 is below the minimum 1');
    expect(filterFromParams({ limit: '0' }).limit).toBe(0);
    expect(filterFromParams({ limit: '5' }, { minLimit: 1, maxLimit: 10 }).limit).toBe(5);
  });
});
