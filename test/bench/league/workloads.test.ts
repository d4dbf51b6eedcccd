import { describe, expect, it } from 'vitest';
import { buildWorkload } from '../../../bench/league/workloads.js';
import { arrivalTimes, bodyOf, textOf } from '../../../bench/league/workload.js';
import { goodput } from '../../../bench/league/stats.js';

const full = { quick: false, seed: 1 };

function contentOf(body: Record<string, unknown>): string {
  return (body.messages as Array<{ content: string }>).map((m) => m.content).join('\u0000');
}

describe('league workloads', () => {
  it('W1 keeps llm-d\'s shape: 150 groups × 5 prompts sharing a system prompt five times the question', () => {
    const w = buildWorkload('W1', full);
    expect(w.requests).toHaveLength(750);
    const byGroup = new Map<number, number>();
    for (const r of w.requests) byGroup.set(r.group, (byGroup.get(r.group) ?? 0) + 1);
    expect(byGroup.size).toBe(150);
    expect([...byGroup.values()].every((n) => n === 5)).toBe(true);
    const [a, b] = w.requests.filter((r) => r.group === w.requests[0].group);
    expect(a.ids.subarray(0, 3000)).toEqual(b.ids.subarray(0, 3000));
    expect(a.ids[3000]).not.toBe(b.ids[3000]);
    expect(a.ids.length).toBe(3600);
    // Fleet KV holds all prefixes only when partitioned: one replica a third of them.
    const kv = w.fleet[0].numBlocks! * 16;
    expect(kv * w.fleet.length).toBeGreaterThan(150 * 3000);
    expect(kv).toBeLessThan(150 * 3000 / 2);
  });

  it('gives equal text prefixes for equal token prefixes, ~5.5 bytes a token (not the routers\' default 4)', () => {
    const w = buildWorkload('W1', { quick: true, seed: 3 });
    const [a, b] = w.requests.filter((r) => r.group === w.requests[0].group);
    const ta = contentOf(bodyOf(a));
    const tb = contentOf(bodyOf(b));
    expect(ta.slice(0, 4000)).toBe(tb.slice(0, 4000));
    expect(ta).not.toBe(tb);
    const bytesPerToken = textOf(a.ids).length / a.ids.length;
    expect(bytesPerToken).toBeGreaterThan(5.3);
    expect(bytesPerToken).toBeLessThan(5.7);
  });

  it('is deterministic by seed, and another seed is another workload', () => {
    const a = buildWorkload('W2', { quick: true, seed: 5 });
    const b = buildWorkload('W2', { quick: true, seed: 5 });
    const c = buildWorkload('W2', { quick: true, seed: 6 });
    expect(a.requests.map((r) => Array.from(r.ids))).toEqual(b.requests.map((r) => Array.from(r.ids)));
    expect(a.requests[0].ids).not.toEqual(c.requests[0].ids);
  });

  it('W2z skews group popularity (Zipf s = 1.1), W2 does not', () => {
    const counts = (name: 'W2' | 'W2z') => {
      const m = new Map<number, number>();
      for (const r of buildWorkload(name, full).requests) m.set(r.group, (m.get(r.group) ?? 0) + 1);
      return [...m.values()].sort((x, y) => y - x);
    };
    expect(counts('W2')[0]).toBe(16);
    expect(counts('W2z')[0]).toBeGreaterThan(150);
  });

  it('W3: each turn\'s prompt is the previous prompt, its answer and a new question', () => {
    const w = buildWorkload('W3', full);
    const later = w.requests.find((r) => r.after)!;
    const prev = w.requests[later.after!.index];
    expect(prev.group).toBe(later.group);
    expect(later.ids.subarray(0, prev.ids.length)).toEqual(prev.ids);
    expect(later.ids.subarray(prev.ids.length, prev.ids.length + prev.answer!.length)).toEqual(prev.answer);
    expect(contentOf(bodyOf(later)).startsWith(contentOf(bodyOf(prev)))).toBe(true);
    expect(w.requests.filter((r) => !r.after)).toHaveLength(240);
  });

  it('W4: one segment per hash id, input_length governs, groups of a first hash id kept whole', () => {
    const w = buildWorkload('W4', full);
    expect(w.requests.length).toBeGreaterThan(300);
    expect(w.requests.every((r) => r.group % 8 === 0)).toBe(true);
    const byFirst = new Map<number, typeof w.requests[number][]>();
    for (const r of w.requests) byFirst.set(r.group, [...(byFirst.get(r.group) ?? []), r]);
    const shared = [...byFirst.values()].find((g) => g.length > 1 && g.every((r) => r.ids.length >= 512))!;
    expect(shared[0].ids.subarray(0, 512)).toEqual(shared[1].ids.subarray(0, 512));
    expect(w.fleet[0].numBlocks! * 16).toBe(500_000);
  });

  it('W5 mixes A10 and H100 replicas with prompts from ~200 to 8000 tokens', () => {
    const w = buildWorkload('W5', full);
    expect(new Set(w.fleet.map((r) => r.profile)).size).toBe(2);
    const lengths = w.requests.map((r) => r.ids.length);
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(8000);
  });

  it('Poisson arrivals at the asked rate; a trace\'s timestamps scaled; later turns wait', () => {
    const w = buildWorkload('W1', full);
    const t = arrivalTimes(w, 10, 1);
    expect(t[t.length - 1] / (t.length - 1)).toBeGreaterThan(80);
    expect(t[t.length - 1] / (t.length - 1)).toBeLessThan(120);
    const trace = buildWorkload('W4', full);
    const twice = arrivalTimes(trace, 2 * trace.nativeRate!, 1);
    expect(twice[10]).toBeCloseTo((trace.requests[10].traceMs! - 0) / 2);
    const w3 = arrivalTimes(buildWorkload('W3', full), 5, 1);
    expect(Array.from(w3).filter(Number.isNaN)).toHaveLength(960);
  });
});

describe('goodput', () => {
  it('interpolates between the last passing and the first failing rate', () => {
    const g = goodput([{ rate: 10, attainment: 1 }, { rate: 20, attainment: 0.85 }, { rate: 5, attainment: 1 }]);
    expect(g.rate).toBeCloseTo(10 + (0.05 / 0.15) * 10);
  });

  it('ignores a pass after the first failure, and says when every rate passed or none did', () => {
    expect(goodput([{ rate: 1, attainment: 0.99 }, { rate: 2, attainment: 0.9 }, { rate: 3, attainment: 0.97 }]).rate!).toBeLessThan(2);
    expect(goodput([{ rate: 1, attainment: 1 }, { rate: 2, attainment: 0.96 }])).toMatchObject({ rate: 2, atLeast: true });
    expect(goodput([{ rate: 1, attainment: 0.5 }]).rate).toBeUndefined();
  });
});
