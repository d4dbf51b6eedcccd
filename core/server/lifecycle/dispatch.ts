/**
 * The select-and-dispatch stage: choose a backend (the route's policy; the admission queue when
 * the choice cannot meet the SLO), send the request, and try another candidate on a failure
 * before the first byte, as the retry policy allows. Every attempt's events go to the hooks;
 * what comes back is the first answer below 400.
 */
import type { DispatchReply } from '../../plugin/types.js';
import { prefixKeyOf, type Candidate, type Decision, type RoutingRequest } from '../../routing/policy.js';
import type { Answer, Attempt, Leaving, LifecycleHooks } from './hooks.js';
import { isObject, type Body, type Exchange } from './exchange.js';
import { statusFailure, transportFailure } from './failures.js';
import { RetryPolicy } from './retry.js';
import { isJsonSpace } from '../answer-usage.js';

type Hooks = Required<LifecycleHooks>;
/** A backend chosen for an attempt, before the request leaves. */
interface Choice extends Pick<Leaving, 'n' | 'backend' | 'decision'> {
  /** The candidate chosen, as the policy saw it (the learner's record reads its signals). */
  readonly chosen: Candidate;
}

export function dispatchWithRetries(x: Exchange, routing: RoutingRequest, hooks: Hooks): Promise<Answer> {
  return new RetryingDispatch(x, routing, hooks).run();
}

class RetryingDispatch {
  private readonly tried = new Set<string>();
  private readonly retry: RetryPolicy;

  constructor(private readonly x: Exchange, private readonly routing: RoutingRequest, private readonly hooks: Hooks) {
    this.retry = new RetryPolicy(x.route, x.req);
  }

  async run(): Promise<Answer> {
    try {
      for (let n = 0; this.retry.allows(n); n++) {
        // Awaited only when the admission queue holds the request: most choices are made at once.
        const selected = this.select(n);
        const choice = selected instanceof Promise ? await selected : selected;
        if (!choice) break;
        const answer = await this.send(choice);
        if (answer) return answer;
      }
    } finally {
      this.hooks.onDispatchEnd();
    }
    throw this.retry.exhausted();
  }

  private select(n: number): Choice | undefined | Promise<Choice> {
    const { route, req, ctx } = this.x;
    const open = this.untried(this.x.candidates);
    this.hooks.onSelect(n);
    const decision = route.policy.select(open, this.routing);
    if (!decision) {
      this.hooks.onNoBackend(n);
      return undefined;
    }
    if (decision.meetsSlo === false && route.admission) {
      // A key's priority, when keys are configured (a client cannot promote itself by header).
      const priority = ctx.tenants?.priorityOf(req) ?? (Number(req.headers['x-priority'] ?? 0) || 0);
      return route.admission.admit(decision, priority, () => route.policy.select(this.untried(route.candidates(this.x.filter)), this.routing))
        .then((admitted) => this.chose(n, open, admitted));
    }
    return this.chose(n, open, decision);
  }

  private chose(n: number, open: Candidate[], decision: Decision): Choice {
    const backend = decision.backend;
    this.tried.add(backend.id);
    return { n, backend, decision, chosen: open.find((c) => c.backend === backend)! };
  }

  /** One attempt: its answer when below 400; undefined when another candidate may be tried. */
  private async send(choice: Choice): Promise<Answer | undefined> {
    const { endpoint, stream, cancel, req, route, ctx } = this.x;
    const { backend, decision } = choice;
    const { body, bodyText } = this.upstreamBody(choice);
    const leaving: Leaving = { n: choice.n, backend, decision, sentAt: performance.now(), headers: req.headers };
    this.hooks.onAttempt(leaving);
    // A backend that retracts prefixes from its engine's events links them to the prompt's keys
    // at once; for the others, the learner keys the prompt once the request has left.
    const prefix = backend.onPrefixRetraction ? prefixKeyOf(this.routing, ctx.routes.state.chunkBytes) : this.routing.prefix;
    let replied: Promise<DispatchReply>;
    try {
      replied = backend.dispatch({
        endpoint, body, bodyText, stream, cancel, requestId: req.id, headers: leaving.headers, prefixHashes: prefix?.hashes, prefixChunkBytes: prefix?.chunkBytes,
      });
    } catch (err) {
      replied = Promise.reject(err); // a plugin that threw instead of rejecting
    }
    // The request has left (an HTTP engine's is written by now): what the decision teaches the
    // learner (the prefix index, the backlog) and the metrics cost it nothing from here. Nothing
    // else ran in between, so the record holds what the learner knew when the request left.
    let a: Attempt;
    try {
      a = Object.assign(leaving, { record: ctx.learner.onDecision(route, choice.chosen, this.routing, decision) });
      this.hooks.onSent(a);
    } catch (err) {
      // A fault in the gateway's own bookkeeping, with the request in flight: its answer is let go.
      replied.then((r) => r.body.destroy(), () => {});
      throw err;
    }
    let reply: DispatchReply;
    try {
      reply = await replied;
    } catch (err) {
      const failure = transportFailure(err, backend, cancel);
      this.hooks.onTransportError(a, failure);
      if (failure.kind) req.log.warn({ backend: backend.id, err: err instanceof Error ? err.message : String(err), attempt: a.n }, 'upstream dispatch failed');
      this.retry.failed(failure);
      return undefined;
    }
    this.hooks.onAnswer(a, reply.status);
    if (reply.status < 400) return { attempt: a, reply };
    const failure = statusFailure(backend, reply.status, await readAll(reply));
    this.hooks.onRefused(a, failure);
    req.log.warn({ backend: backend.id, status: reply.status, attempt: a.n }, 'upstream answered an error');
    this.retry.failed(failure);
    return undefined;
  }

  /**
   * The body for the backend, and its text when that can be the client's: the client's bytes
   * unchanged, or with the one field the gateway adds in front of them.
   */
  private upstreamBody({ backend }: Choice): { body: Body; bodyText: string | undefined } {
    const { body, stream, endpoint, route } = this.x;
    const model = route.engineModel(backend);
    const upstream: Body = { ...body, model };
    let text = model === body.model ? this.x.bodyText : undefined;
    if (stream && endpoint !== 'responses' && !this.x.clientWantsUsage) {
      // Ask every engine for usage so the gateway always knows token counts; the relay strips
      // the usage chunk when the client did not ask for it.
      upstream.stream_options = { ...(isObject(body.stream_options) ? body.stream_options : {}), include_usage: true };
      // A body without stream_options (the common case) gets it as its first member; one that has
      // some (another option set, or null) is written again whole.
      text = text !== undefined && body.stream_options === undefined ? withFirstMember(text, USAGE_MEMBER) : undefined;
    }
    return { body: upstream, bodyText: text };
  }

  private untried(candidates: Candidate[]): Candidate[] {
    return candidates.filter((c) => !this.tried.has(c.backend.id));
  }
}

const USAGE_MEMBER = '"stream_options":{"include_usage":true}';

/**
 * A JSON object's text with `member` inserted as its first member (the object's other bytes as
 * they were); undefined unless the text is an object with at least one member. The caller knows
 * the object has no member of that name (a duplicate name would leave which one counts to the
 * engine's parser).
 */
export function withFirstMember(text: string, member: string): string | undefined {
  let open = 0;
  while (open < text.length && isJsonSpace(text.charCodeAt(open))) open++;
  if (text.charCodeAt(open) !== 0x7b) return undefined; // '{'
  let next = open + 1;
  while (next < text.length && isJsonSpace(text.charCodeAt(next))) next++;
  if (next >= text.length || text.charCodeAt(next) === 0x7d) return undefined; // '}': no member to follow
  return `${text.slice(0, open + 1)}${member},${text.slice(open + 1)}`;
}

/** The whole answer's bytes (a non-streamed answer, relayed as it came). */
export async function readBytes(reply: DispatchReply): Promise<Buffer> {
  if (reply.bytes) return reply.bytes();
  if (reply.text) return Buffer.from(await reply.text());
  const chunks: Buffer[] = [];
  for await (const chunk of reply.body as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

export async function readAll(reply: DispatchReply): Promise<string> {
  if (reply.text) return reply.text();
  const chunks: Buffer[] = [];
  for await (const chunk of reply.body as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
