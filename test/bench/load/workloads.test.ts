import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkloadRequest } from '../../../bench/load/source.js';
import { parseTrace } from '../../../bench/load/trace.js';
import { buildWorkload, multiRoundQuestion, parseWorkloadArgs, type WorkloadOptions } from '../../../bench/load/workloads.js';
import { Tokenizer } from '../../../core/tokenizer/tokenizer.js';

const tokenizer = Tokenizer.qwenDefault();
const tokens = (text: string) => tokenizer.encode(text).length;
/** What the engine counts: the prompt after the chat template. */
const templated = (r: WorkloadRequest) => tokens(tokenizer.applyChatTemplate(r.messages, { addGenerationPrompt: true }));

async function all(options: WorkloadOptions, seed = 7, numPrompts?: number): Promise<WorkloadRequest[]> {
  const source = buildWorkload(options, { tokenizer, seed, numPrompts }).source();
  const out: WorkloadRequest[] = [];
  for (let r = await source.next(); r !== undefined; r = await source.next()) out.push(r);
  return out;
}

describe('workloads', () => {
  it('fixed: one prompt of exactly the input length, repeated', async () => {
    const reqs = await all({ kind: 'fixed', inputLen: 200, outputLen: 32 }, 1, 5);
    expect(reqs).toHaveLength(5);
    expect(new Set(reqs.map((r) => r.messages[0].content)).size).toBe(1);
    expect(tokens(reqs[0].messages[0].content)).toBe(200);
    expect(reqs[0].maxTokens).toBe(32);
    expect(reqs[0].expectedPromptTokens).toBe(templated(reqs[0]));
  });

  it('random: lengths uniform in [⌊len·(1−r)⌋, ⌈len·(1+r)⌉] after an exact shared prefix', async () => {
    const reqs = await all({ kind: 'random', inputLen: 100, outputLen: 20, rangeRatio: 0.5, prefixLen: 30 }, 3, 40);
    expect(reqs).toHaveLength(40);
    const prefix = reqs[0].messages[0].content.slice(0, 60);
    for (const r of reqs) {
      const n = tokens(r.messages[0].content) - 30;
      expect(n).toBeGreaterThanOrEqual(50);
      expect(n).toBeLessThanOrEqual(150);
      expect(r.maxTokens).toBeGreaterThanOrEqual(10);
      expect(r.maxTokens).toBeLessThanOrEqual(30);
      expect(r.messages[0].content.startsWith(prefix)).toBe(true);
      expect(r.expectedPromptTokens).toBe(templated(r));
    }
    expect(new Set(reqs.map((r) => r.maxTokens)).size).toBeGreaterThan(1);
  });

  it('random with range ratio 0 has every prompt exactly the input length', async () => {
    const reqs = await all({ kind: 'random', inputLen: 64, outputLen: 8, rangeRatio: 0, prefixLen: 0 }, 5, 10);
    for (const r of reqs) expect(tokens(r.messages[0].content)).toBe(64);
    expect(new Set(reqs.map((r) => r.messages[0].content)).size).toBe(10);
  });

  it('shared-prefix: groups × prompts, one exact system prompt per group, exact questions, shuffled, ignore_eos', async () => {
    const o: WorkloadOptions = { kind: 'shared-prefix', numGroups: 4, promptsPerGroup: 3, systemPromptLen: 96, questionLen: 24, outputLen: 16 };
    const reqs = await all(o);
    expect(reqs).toHaveLength(12);
    const groups = new Map<number, Set<string>>();
    for (const r of reqs) {
      expect(r.messages.map((m) => m.role)).toEqual(['system', 'user']);
      expect(tokens(r.messages[0].content)).toBe(96);
      expect(tokens(r.messages[1].content)).toBe(24);
      expect(r).toMatchObject({ maxTokens: 16, ignoreEos: true });
      expect(r.expectedPromptTokens).toBe(templated(r));
      const set = groups.get(r.group!) ?? new Set<string>();
      set.add(r.messages[0].content);
      groups.set(r.group!, set);
    }
    expect(groups.size).toBe(4);
    for (const systems of groups.values()) expect(systems.size).toBe(1);
    expect(new Set([...groups.values()].map((s) => [...s][0])).size).toBe(4);
    // Shuffled: not in group order.
    expect(reqs.map((r) => r.group)).not.toEqual([...reqs.map((r) => r.group!)].sort());
    // --num-prompts cuts the same shuffled order.
    expect((await all(o, 7, 5)).map((r) => r.messages[1].content)).toEqual(reqs.slice(0, 5).map((r) => r.messages[1].content));
  });

  it('prefix-repetition: ⌊N/prefixes⌋ requests per exact prefix, each with its own exact suffix', async () => {
    const reqs = await all({ kind: 'prefix-repetition', prefixLen: 50, suffixLen: 20, numPrefixes: 3, outputLen: 8 }, 2, 10);
    expect(reqs).toHaveLength(9);
    for (const r of reqs) {
      expect(tokens(r.messages[0].content)).toBe(70);
      expect(r.expectedPromptTokens).toBe(templated(r));
    }
    const byGroup = new Map<number, string[]>();
    for (const r of reqs) byGroup.set(r.group!, [...(byGroup.get(r.group!) ?? []), r.messages[0].content]);
    expect(byGroup.size).toBe(3);
    for (const contents of byGroup.values()) {
      expect(contents).toHaveLength(3);
      const head = contents[0].slice(0, 100);
      expect(contents.every((c) => c.startsWith(head))).toBe(true);
    }
  });

  it('is deterministic under a seed, and another seed gives other text', async () => {
    const o: WorkloadOptions = { kind: 'random', inputLen: 40, outputLen: 8, rangeRatio: 0.3, prefixLen: 0 };
    const a = await all(o, 11, 6);
    expect(await all(o, 11, 6)).toEqual(a);
    expect((await all(o, 12, 6)).map((r) => r.messages[0].content)).not.toEqual(a.map((r) => r.messages[0].content));
  });

  it('multi-round: each turn carries the conversation so far, with the answers the model gave', async () => {
    const o: WorkloadOptions = { kind: 'multi-round', numUsers: 2, numRounds: 3, sharedSystemPrompt: 40, userHistoryPrompt: 60, answerLen: 5 };
    const source = buildWorkload(o, { tokenizer, seed: 1 }).source();
    expect(source.size).toBe(6);
    const u0 = (await source.next())!;
    const u1 = (await source.next())!;
    expect([u0.group, u0.turn, u1.group, u1.turn]).toEqual([0, 1, 1, 1]);
    expect(u0.messages[0]).toEqual(u1.messages[0]); // the shared system prompt
    expect(tokens(u0.messages[0].content)).toBe(40);
    const history0 = u0.messages[1].content.split('\n\n')[0];
    expect(tokens(history0)).toBe(60);
    expect(u0.messages[1].content.endsWith(multiRoundQuestion(1))).toBe(true);
    expect(history0).not.toBe(u1.messages[1].content.split('\n\n')[0]);
    // Nothing is ready until a turn returns.
    let pending: WorkloadRequest | undefined | 'waiting' = 'waiting';
    const next = source.next().then((r) => { pending = r; });
    await Promise.resolve();
    expect(pending).toBe('waiting');
    source.complete(u0, { success: true, text: 'ANSWER ONE' });
    await next;
    const turn2 = pending as unknown as WorkloadRequest;
    expect(turn2).toMatchObject({ group: 0, turn: 2 });
    expect(turn2.messages.slice(0, 2)).toEqual(u0.messages);
    expect(turn2.messages[2]).toEqual({ role: 'assistant', content: 'ANSWER ONE' });
    expect(turn2.messages[3]).toEqual({ role: 'user', content: multiRoundQuestion(2) });
    // A failed turn ends its user's conversation.
    source.complete(u1, { success: false, text: '' });
    expect(source.abandoned).toBe(2);
  });

  it('trace: exact input lengths, equal hash ids give identical text blocks, arrivals from timestamps', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sy-trace-'));
    const file = path.join(dir, 'trace.jsonl');
    writeFileSync(file, [
      { timestamp: 1000, input_length: 1300, output_length: 7, hash_ids: [1, 2, 3] },
      { timestamp: 1250, input_length: 1100, output_length: 9, hash_ids: [1, 2, 4] },
      { timestamp: 3000, input_length: 100, output_length: 3, hash_ids: [5] },
    ].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const reqs = await all({ kind: 'trace', file, blockSize: 512, speedup: 2 });
    expect(reqs.map((r) => tokens(r.messages[0].content))).toEqual([1300, 1100, 100]);
    expect(reqs.map((r) => r.arrivalMs)).toEqual([0, 125, 1000]);
    expect(reqs.map((r) => r.maxTokens)).toEqual([7, 9, 3]);
    const [a, b] = reqs.map((r) => tokenizer.encode(r.messages[0].content));
    let shared = 0;
    while (shared < a.length && a[shared] === b[shared]) shared++;
    expect(shared).toBe(1024); // blocks 1 and 2, to the token
    for (const r of reqs) expect(r.expectedPromptTokens).toBe(templated(r));
    expect(() => parseTrace('{"timestamp": 1, "input_length": 0, "output_length": 1}', 'x.jsonl')).toThrow(/x\.jsonl:1: "input_length"/);
  });
});

describe('parseWorkloadArgs', () => {
  it('applies the defaults of the benchmark each workload comes from', () => {
    expect(parseWorkloadArgs({})).toEqual({ kind: 'random', inputLen: 1024, outputLen: 128, rangeRatio: 0, prefixLen: 0 });
    expect(parseWorkloadArgs({ workload: 'shared-prefix' })).toEqual({
      kind: 'shared-prefix', numGroups: 64, promptsPerGroup: 16, systemPromptLen: 2048, questionLen: 128, outputLen: 256,
    });
    expect(parseWorkloadArgs({ workload: 'prefix-repetition', 'prefix-repetition-num-prefixes': '4' })).toMatchObject({ numPrefixes: 4, prefixLen: 256 });
  });

  it('rejects bad values and flags of another workload, naming the flag', () => {
    expect(() => parseWorkloadArgs({ workload: 'nope' })).toThrow(/--workload: expected one of/);
    expect(() => parseWorkloadArgs({ 'random-input-len': 'ten' })).toThrow(/--random-input-len: expected a number/);
    expect(() => parseWorkloadArgs({ 'random-range-ratio': '1' })).toThrow(/\[0, 1\)/);
    expect(() => parseWorkloadArgs({ workload: 'fixed', 'gsp-num-groups': '3' })).toThrow(/--gsp-num-groups belongs to --workload shared-prefix/);
    expect(() => parseWorkloadArgs({ workload: 'trace' })).toThrow(/--trace-file/);
  });
});
