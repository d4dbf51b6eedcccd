import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '../../../core/state/batch-codec.js';
import type { LoadObservation, PrefixObservation } from '../../../core/state/types.js';

const t = 1_760_000_000_000;

describe('batch codec', () => {
  it('round-trips prefixes and loads exactly', () => {
    const prefixes: PrefixObservation[] = [
      { backendId: 'a', hashes: [2 ** 52 - 1, 0, 5], at: t },
      { backendId: 'b', hashes: [2 ** 52 - 1, 0, 6, 7], at: t - 3 },
      { backendId: 'a', hashes: [], at: t + 0.5 },
      { backendId: 'c', hashes: [9], at: t + 4 },
    ];
    const loads: LoadObservation[] = [
      { gatewayId: 'gw', backendId: 'a', inFlight: 3, at: t + 1 },
      { gatewayId: 'other-gw', backendId: 'd', inFlight: 0, at: t + 2 },
    ];
    const decoded = decodeBatch(encodeBatch({ prefixes, loads }, 'gw'), 'gw');
    expect(decoded).toEqual({ prefixes, loads });
  });

  it('sends a prefix shared with the previous chain once, and each backend id once', () => {
    const common = Array.from({ length: 32 }, (_, i) => 2 ** 51 + i * 1_000_003);
    const prefixes = Array.from({ length: 20 }, (_, i) => ({ backendId: `backend-${i % 2}`, hashes: [...common, i], at: t + i }));
    const wire = encodeBatch({ prefixes, loads: [] }, 'gw');
    const naive = JSON.stringify(prefixes);
    expect(wire.length).toBeLessThan(naive.length / 8);
    expect(wire.match(/backend-0/g)).toHaveLength(1);
    expect(decodeBatch(wire, 'gw').prefixes).toEqual(prefixes);
  });

  it('rejects what it did not write', () => {
    for (const bad of ['', '[]', '{"t":1}', '{"t":1,"b":[],"p":[[0,0,0]]}', '{"t":1,"b":["a"],"p":[[0,0,1,5]]}',
      '{"t":1,"b":["a"],"p":[[0,0,0,-1]]}', '{"t":1,"b":["a"],"p":[[0,0,0,1.5]]}', '{"t":1,"b":["a"],"l":[[0,0,"x"]]}']) {
      expect(() => decodeBatch(bad, 'gw'), bad).toThrow();
    }
  });
});
