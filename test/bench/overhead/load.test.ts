import { describe, expect, it } from 'vitest';
import { parseWrk, percentile, wrkScript } from '../../../bench/overhead/load.js';

// wrk 4.1.0 with --latency, as printed on a run with failures.
const REPORT = `Running 10s test @ http://127.0.0.1:40123/v1/chat/completions
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.51ms    2.95ms  64.34ms   91.58%
    Req/Sec     2.45k   217.80     2.93k    74.00%
  Latency Distribution
     50%    6.26ms
     75%    6.93ms
     90%    7.76ms
     99%   12.50ms
  48741 requests in 10.01s, 25.31MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   4869.55
Transfer/sec:      2.53MB
`;

describe('wrk', () => {
  it('reads requests/s, the --latency percentiles and the failures from its report', () => {
    expect(parseWrk(REPORT)).toEqual({
      requests: 48741, durationS: 10.01, rps: 4869.55, p50Ms: 6.26, p90Ms: 7.76, p99Ms: 12.5, non2xx: 7, errors: 3,
    });
  });

  it('converts microsecond and second units to ms', () => {
    const r = parseWrk(REPORT.replace('6.26ms', '812.00us').replace('12.50ms', '1.20s'));
    expect(r.p50Ms).toBeCloseTo(0.812);
    expect(r.p99Ms).toBeCloseTo(1200);
  });

  it('refuses output that is not a report', () => {
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/could not read/);
  });

  // The first version wrote `wrk.headers[[[content-type]]]`: Lua reads `[[` as a long string,
  // the script fails to load, and wrk carries on with plain GETs — every request a 404.
  it('writes header keys as Lua index expressions, not long-string calls', () => {
    const script = wrkScript({ body: '{"a":[1]}', headers: { 'content-type': 'application/json' } });
    expect(script).toContain('wrk.headers[ [[content-type]] ] = [[application/json]]');
    expect(script).toContain('wrk.body = [[{"a":[1]}]]');
  });

  it('picks a long-bracket level the body cannot close', () => {
    expect(wrkScript({ body: '{"x":[[1]]}', headers: {} })).toContain('wrk.body = [=[{"x":[[1]]}]=]');
  });
});

describe('percentile', () => {
  it('interpolates linearly between ranks, like numpy', () => {
    const sorted = [1, 2, 3, 4];
    expect(percentile(sorted, 50)).toBe(2.5);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile(sorted, 100)).toBe(4);
    expect(percentile([], 50)).toBeNaN();
  });
});
