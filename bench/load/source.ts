/**
 * Where the runner takes its next request from. Most workloads are a list fixed before the run;
 * a multi-round conversation is not — turn k+1 carries the model's actual answer to turn k, so it
 * only exists once turn k has returned. Both sit behind one pull interface, and the runner never
 * asks which kind it holds.
 */

/** One chat message as the load generator sends it. */
export interface BenchMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** One request of a workload. */
export interface WorkloadRequest {
  messages: BenchMessage[];
  /** Sent as `max_tokens`. */
  maxTokens: number;
  /** Prompt tokens after the Qwen chat template, when the workload knows them exactly. */
  expectedPromptTokens?: number;
  /** Prefix group (shared-prefix, prefix-repetition), user (multi-round). */
  group?: number;
  /** Multi-round: 1-based turn number. */
  turn?: number;
  /** Ask the engine to ignore EOS so the answer has exactly `maxTokens` tokens. */
  ignoreEos?: boolean;
  /** Trace replay: ms after the first request at which this one arrives. */
  arrivalMs?: number;
}

/** What the source needs to hear back about a request it handed out. */
export interface RequestFeedback {
  success: boolean;
  /** The streamed answer text. */
  text: string;
}

export interface RequestSource {
  /** Requests this source will hand out at most. */
  readonly size: number;
  /** Requests it will no longer hand out because one they depend on failed. */
  readonly abandoned?: number;
  /**
   * The next request. Resolves `undefined` when the source is exhausted; may wait while every
   * remaining request depends on one still in flight.
   */
  next(): Promise<WorkloadRequest | undefined>;
  /** Reports the outcome of a request obtained from `next()`. */
  complete(request: WorkloadRequest, feedback: RequestFeedback): void;
}

/** A source over a list fixed in advance. */
export class ListSource implements RequestSource {
  private index = 0;

  constructor(private readonly requests: readonly WorkloadRequest[]) {}

  get size(): number {
    return this.requests.length;
  }

  next(): Promise<WorkloadRequest | undefined> {
    return Promise.resolve(this.index < this.requests.length ? this.requests[this.index++] : undefined);
  }

  complete(): void {}
}

/** One simulated user of a multi-round workload. */
export interface Conversation {
  /** Messages that open every request of this user (system prompt). */
  opening: BenchMessage[];
  /** The user message of each turn, in order. */
  questions: string[];
  maxTokens: number;
  ignoreEos?: boolean;
}

/**
 * Multi-round sessions: every user's first turn is ready at the start (in user order); when a turn
 * returns, the same user's next turn — history plus the model's answer plus the next question —
 * joins the back of the ready queue. Interleaving users this way spaces one user's turns apart the
 * way many concurrent users do. A failed turn ends that user's conversation: without an answer
 * there is no honest history to continue from; `abandoned` counts the turns never sent.
 */
export class ConversationSource implements RequestSource {
  private readonly ready: WorkloadRequest[] = [];
  private readonly history = new Map<WorkloadRequest, { user: number; messages: BenchMessage[] }>();
  private readonly waiters: Array<(request: WorkloadRequest | undefined) => void> = [];
  private issued = 0;
  private inFlight = 0;
  private abandonedTurns = 0;
  readonly size: number;

  constructor(private readonly conversations: readonly Conversation[], limit = Infinity) {
    const total = conversations.reduce((n, c) => n + c.questions.length, 0);
    this.size = Math.min(total, limit);
    conversations.forEach((c, user) => {
      if (c.questions.length > 0) this.enqueue(user, c.opening, 1);
    });
  }

  /** Turns that will not be sent because an earlier turn of their user failed. */
  get abandoned(): number {
    return this.abandonedTurns;
  }

  next(): Promise<WorkloadRequest | undefined> {
    if (this.issued >= this.size) return Promise.resolve(undefined);
    if (this.ready.length > 0) return Promise.resolve(this.take());
    if (this.inFlight === 0) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  complete(request: WorkloadRequest, feedback: RequestFeedback): void {
    const entry = this.history.get(request);
    if (entry === undefined) return;
    this.history.delete(request);
    this.inFlight--;
    const c = this.conversations[entry.user];
    const turn = request.turn ?? 1;
    if (feedback.success) {
      if (turn < c.questions.length) {
        this.enqueue(entry.user, [...entry.messages, { role: 'assistant', content: feedback.text }], turn + 1);
      }
    } else {
      this.abandonedTurns += c.questions.length - turn;
    }
    this.wake();
  }

  private enqueue(user: number, before: BenchMessage[], turn: number): void {
    const c = this.conversations[user];
    const messages: BenchMessage[] = [...before, { role: 'user', content: c.questions[turn - 1] }];
    const request: WorkloadRequest = { messages, maxTokens: c.maxTokens, group: user, turn, ignoreEos: c.ignoreEos };
    this.history.set(request, { user, messages });
    this.ready.push(request);
  }

  private take(): WorkloadRequest {
    this.issued++;
    this.inFlight++;
    return this.ready.shift()!;
  }

  private wake(): void {
    while (this.waiters.length > 0) {
      if (this.issued >= this.size || (this.ready.length === 0 && this.inFlight === 0)) {
        this.waiters.shift()!(undefined);
      } else if (this.ready.length > 0) {
        this.waiters.shift()!(this.take());
      } else {
        return;
      }
    }
  }
}
