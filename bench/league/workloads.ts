/**
 * The league's synthetic workloads (W4, the Mooncake trace, is mooncake.ts). Each is built from a
 * seed — the groups' prompts and the request order change with it — in a full and a `quick` size.
 */
import { loadMooncake } from './mooncake.js';
import {
  concatIds, exponential, logNormal, randomIds, rng, Segment, shuffle, zipf,
  type LeagueMessage, type LeagueRequest, type ReplicaSpec, type Workload,
} from './workload.js';

export const WORKLOADS = ['W1', 'W2', 'W2z', 'W3', 'W4', 'W5'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface BuildOptions {
  quick: boolean;
  seed: number;
}

const H100 = 'h100-llama3-8b-vllm';
const A10 = 'a10-qwen2.5-7b-vllm';
const TIGHT = { ttftMs: 1000, tpotMs: 60 };

function fleet(n: number, profile: string, numBlocks?: number): ReplicaSpec[] {
  return Array.from({ length: n }, (_, i) => ({ id: `r${i}`, profile, numBlocks }));
}

function request(index: number, group: number, messages: LeagueMessage[], maxTokens: number): LeagueRequest {
  return { index, group, messages, ids: concatIds(messages.flatMap((m) => m.segments)), maxTokens };
}

/** A rate ladder: `from` up by ×`factor`, `n` steps, rounded to 2 significant digits. */
export function ladder(from: number, factor: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Number((from * factor ** i).toPrecision(2)));
}

/**
 * Shared prefix: `groups` system prompts, each asked `perGroup` questions; requests shuffled, or
 * (with `zipfS`) each request's group drawn with Zipf-skewed popularity.
 */
function sharedPrefix(o: { groups: number; perGroup: number; system: number; question: number; output: number; seed: number; zipfS?: number }): LeagueRequest[] {
  const random = rng(o.seed);
  const systems = Array.from({ length: o.groups }, () => new Segment(randomIds(random, o.system)));
  const total = o.groups * o.perGroup;
  let order: number[];
  if (o.zipfS !== undefined) {
    const draw = zipf(o.groups, o.zipfS);
    // Popularity ranks land on random groups, so group 0 is not always the hot one.
    const rankToGroup = shuffle(random, Array.from({ length: o.groups }, (_, g) => g));
    order = Array.from({ length: total }, () => rankToGroup[draw(random)]);
  } else {
    order = shuffle(random, Array.from({ length: total }, (_, i) => i % o.groups));
  }
  return order.map((g, i) => request(i, g, [
    { role: 'system', segments: [systems[g]] },
    { role: 'user', segments: [new Segment(randomIds(random, o.question))] },
  ], o.output));
}

/**
 * W1 — llm-d's shared-prefix preset (inference-perf `shared_prefix`: 150 groups × 5 prompts,
 * system 6000, question 1200, output 1000) with its counts kept and its lengths halved (system
 * 3000, question 600: still a fifth) and the output cut to 200, so a sweep point runs in about a
 * second here. KV is sized as in llm-d's 73-capacity run, where one pod holds about a third of all
 * the groups' prefixes: 150k tokens a replica, 4 replicas — the cluster (600k) holds the 450k of
 * prefixes only when they are partitioned across replicas.
 */
function w1(o: BuildOptions): Workload {
  const [groups, perGroup, system, question, output, blocks] = o.quick ? [12, 3, 1000, 200, 24, 400] : [150, 5, 3000, 600, 200, 9375];
  return {
    name: 'W1', title: 'llm-d shared prefix (scaled)', fleet: fleet(o.quick ? 2 : 4, H100, blocks), slo: TIGHT, arrivals: 'poisson',
    notes: `${groups} groups × ${perGroup} prompts, system ${system}, question ${question}, output ${output}; ${o.quick ? 2 : 4} × h100 with ${blocks * 16} KV tokens each (a third of all prefixes)`,
    requests: sharedPrefix({ groups, perGroup, system, question, output, seed: o.seed }),
    rates: o.quick ? [2, 6] : ladder(8, 1.5, 8),
  };
}

/**
 * W2 — SGLang's generated shared prefix (bench_serving `generated-shared-prefix`: 64 groups × 16
 * prompts, system 2048, question 128, output 256) made prefill-heavy: system 4096, question 256,
 * output 32. KV: 131k tokens a replica, half of all prefixes. W2z draws each request's group from
 * a Zipf(s = 1.1) popularity instead of 16 each.
 */
function w2(o: BuildOptions, zipfS?: number): Workload {
  const [groups, perGroup, system, question, output, blocks] = o.quick ? [8, 4, 1000, 64, 8, 300] : [64, 16, 4096, 256, 32, 8192];
  const n = o.quick ? 2 : 4;
  return {
    name: zipfS ? 'W2z' : 'W2', title: `prefill-heavy shared prefix${zipfS ? `, Zipf s=${zipfS} groups` : ''}`, fleet: fleet(n, H100, blocks), slo: TIGHT, arrivals: 'poisson',
    notes: `${groups} groups, ${groups * perGroup} requests${zipfS ? ` (group ~ Zipf s=${zipfS})` : ''}, system ${system}, question ${question}, output ${output}; ${n} × h100 with ${blocks * 16} KV tokens each`,
    requests: sharedPrefix({ groups, perGroup, system, question, output, seed: o.seed, zipfS }),
    rates: o.quick ? [3, 9] : ladder(8, 1.5, 8),
  };
}

/**
 * W3 — multi-round QA (production-stack's multi-round-qa: 320 users × 10 rounds, shared system
 * prompt 1000, user history 20000, answer 100), scaled: 240 users × 5 rounds, history 3000,
 * question 100, answer 100. A turn's prompt is the system prompt, the user's history, every
 * earlier question and answer, and the new question; the engine answers the scripted answer, so
 * the next turn's prompt holds the engine's own output. Sessions start as a Poisson process; a
 * user's next turn is sent when the previous answer ends plus an exponential think time (mean
 * 2 s) — the rate is sessions/s × rounds, and an overloaded fleet slows its users down.
 * KV: 72k tokens a replica, 4 replicas (a third of the users' histories at their longest). The
 * users are enough to overload the fleet: with fewer, their think times cap the load below what
 * any profile can carry, and every goodput reads as the ladder's top.
 */
function w3(o: BuildOptions): Workload {
  const [users, rounds, system, history, question, answer, blocks] = o.quick ? [6, 3, 300, 600, 40, 24, 400] : [240, 5, 1000, 3000, 100, 100, 4500];
  const random = rng(o.seed);
  const shared = new Segment(randomIds(random, system));
  const requests: LeagueRequest[] = [];
  const transcripts = new Map<number, Segment[]>();
  const turn = (u: number, before: Segment[]): LeagueRequest => {
    const index = requests.length;
    const hist = before.length === 0 ? [new Segment(randomIds(random, history))] : before;
    const q = new Segment(randomIds(random, question));
    const a = randomIds(random, answer);
    transcripts.set(index, [...hist, q, new Segment(a)]);
    const r = request(index, u, [{ role: 'system', segments: [shared] }, { role: 'user', segments: [...hist, q] }], answer);
    r.answer = a;
    requests.push(r);
    return r;
  };
  // First turns in session order, then each round's later turns (each after its user's previous one).
  const starts = shuffle(random, Array.from({ length: users }, (_, u) => u));
  const last = new Map<number, number>();
  for (const u of starts) last.set(u, turn(u, []).index);
  for (let k = 1; k < rounds; k++) {
    for (const u of starts) {
      const prev = last.get(u)!;
      const r = turn(u, transcripts.get(prev)!);
      r.after = { index: prev, thinkMs: exponential(random, 2000) };
      last.set(u, r.index);
    }
  }
  const n = o.quick ? 2 : 4;
  return {
    name: 'W3', title: 'multi-turn conversations', fleet: fleet(n, H100, blocks), slo: TIGHT, arrivals: 'sessions',
    notes: `${users} users × ${rounds} rounds, system ${system} (shared), history ${history}, question ${question}, answer ${answer}, think ~exp(2 s); ${n} × h100 with ${blocks * 16} KV tokens each`,
    requests, rates: o.quick ? [2, 6] : ladder(4, 1.5, 8),
  };
}

/**
 * W5 — a mixed fleet, 2 × A10 and 2 × H100 with their profiles' own KV: 100 groups of Zipf
 * (s = 1.1) popularity, each group's prefix log-normal (median 1200, 150..6000 tokens) and each
 * request's own part log-normal (median 300, 50..2000): prompts from ~200 to 8000 tokens.
 */
function w5(o: BuildOptions): Workload {
  const [groups, total, output] = o.quick ? [10, 40, 16] : [100, 800, 128];
  const random = rng(o.seed);
  const prefixes = Array.from({ length: groups }, () => new Segment(randomIds(random, logNormal(random, 1200, 0.8, 150, 6000))));
  const draw = zipf(groups, 1.1);
  const requests = Array.from({ length: total }, (_, i) => {
    const g = draw(random);
    return request(i, g, [
      { role: 'system', segments: [prefixes[g]] },
      { role: 'user', segments: [new Segment(randomIds(random, logNormal(random, 300, 0.8, 50, 2000)))] },
    ], output);
  });
  const replicas: ReplicaSpec[] = [{ id: 'a10-0', profile: A10 }, { id: 'a10-1', profile: A10 }, { id: 'h100-0', profile: H100 }, { id: 'h100-1', profile: H100 }];
  return {
    name: 'W5', title: 'mixed fleet (A10 + H100), Zipf groups', fleet: o.quick ? [replicas[0], replicas[2]] : replicas, slo: TIGHT, arrivals: 'poisson',
    notes: `${groups} groups (Zipf s=1.1), ${total} requests, prefix ~logN(1200) 150..6000, own part ~logN(300) 50..2000, output ${output}; ${o.quick ? '1 × a10 + 1 × h100' : '2 × a10 + 2 × h100'}, profiles' own KV`,
    requests, rates: o.quick ? [2, 6] : ladder(4, 1.5, 8),
  };
}

export function buildWorkload(name: WorkloadName, o: BuildOptions): Workload {
  switch (name) {
    case 'W1': return w1(o);
    case 'W2': return w2(o);
    case 'W2z': return w2(o, 1.1);
    case 'W3': return w3(o);
    case 'W4': return loadMooncake(o);
    case 'W5': return w5(o);
  }
}
