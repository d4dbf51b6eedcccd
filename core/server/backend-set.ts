/**
 * The gateway's backends as one set that a reload changes. A backend whose config section is
 * unchanged (deep-equal) is kept: the same object, with its health checks, load reads, KV-event
 * subscription and in-process engine. One whose section changed is replaced by a new object under
 * the same id. New backends are created and started before anything routes to them; if one fails
 * to start, none of them is kept and the set is as it was.
 */
import { isDeepStrictEqual } from 'node:util';
import { resolvePlugin } from '../plugin/registry.js';
import type { Backend, BackendPlugin, BackendSpec, PluginContext } from '../plugin/types.js';

/** The next set, started but not serving: `BackendSet.commit` makes it current. */
export interface BackendChange {
  readonly next: ReadonlyMap<string, Backend>;
  readonly kept: readonly Backend[];
  /** Created and started for this change. */
  readonly added: readonly Backend[];
  /** Serving now and not in the next set: removed, or replaced by a new object for a changed section. */
  readonly leaving: readonly Backend[];
  readonly specs: ReadonlyMap<string, BackendSpec>;
}

export class BackendSet {
  private specs = new Map<string, BackendSpec>();
  private byId = new Map<string, Backend>();
  private current: readonly Backend[] = [];

  constructor(private readonly ctx: PluginContext, private readonly plugins?: ReadonlyMap<string, BackendPlugin>) {}

  /** The backends serving now, in config order. A commit replaces the array whole. */
  get list(): readonly Backend[] {
    return this.current;
  }

  get(id: string): Backend | undefined {
    return this.byId.get(id);
  }

  /** Whether this object is the one serving under its id (not one a reload replaced or removed). */
  serves(backend: Backend): boolean {
    return this.byId.get(backend.id) === backend;
  }

  /** Creates and starts what `specs` adds or changes; rejects, with everything it started closed, if one fails. */
  async prepare(specs: readonly BackendSpec[]): Promise<BackendChange> {
    const next = new Map<string, Backend>();
    const kept: Backend[] = [];
    const added: Backend[] = [];
    try {
      for (const spec of specs) {
        const old = this.byId.get(spec.id);
        if (old && isDeepStrictEqual(this.specs.get(spec.id), spec)) {
          kept.push(old);
          next.set(spec.id, old);
          continue;
        }
        const plugin = this.plugins?.get(spec.type) ?? (await resolvePlugin(spec.type, this.ctx.configDir));
        const backend = plugin.create(spec, this.ctx);
        added.push(backend);
        next.set(spec.id, backend);
      }
      await Promise.all(added.map((b) => b.start()));
    } catch (err) {
      await Promise.allSettled(added.map((b) => b.close()));
      throw err;
    }
    const leaving = this.current.filter((b) => next.get(b.id) !== b);
    return { next, kept, added, leaving, specs: new Map(specs.map((s) => [s.id, s])) };
  }

  /** Makes a prepared set the current one, in one step. The leaving backends are the caller's to close. */
  commit(change: BackendChange): void {
    this.byId = new Map(change.next);
    this.specs = new Map(change.specs);
    this.current = [...change.next.values()];
  }

  /** Throws a prepared change away (something after it failed): closes what it started. */
  async abandon(change: BackendChange): Promise<void> {
    await Promise.allSettled(change.added.map((b) => b.close()));
  }
}
