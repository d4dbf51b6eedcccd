/**
 * Which backend holds each stored response of the Responses API. An engine keeps the responses it
 * produced in its own process (vLLM's `/v1/responses` store is an in-memory dict per server), so a
 * request that continues one with `previous_response_id` must go back to the replica that answered:
 * another replica does not know the id.
 *
 * Learnt from the answers relayed (a non-streamed answer's `id`, a stream's `response.created`
 * event), bounded (least recently used first out), and per gateway process: an id this process
 * never saw, or has forgotten, is routed like any request and the engine judges it.
 */
export class ResponseOwners {
  private readonly owners = new Map<string, string>();

  constructor(readonly capacity = 100_000) {}

  remember(responseId: string, backendId: string): void {
    // Map keeps insertion order: re-inserting makes the id the most recently used.
    this.owners.delete(responseId);
    this.owners.set(responseId, backendId);
    if (this.owners.size > this.capacity) this.owners.delete(this.owners.keys().next().value as string);
  }

  /** The backend id holding this response, if this process relayed it. */
  ownerOf(responseId: string): string | undefined {
    const owner = this.owners.get(responseId);
    if (owner !== undefined) this.remember(responseId, owner);
    return owner;
  }

  get size(): number {
    return this.owners.size;
  }
}

/** The `id` of a non-streamed Responses answer; undefined when the text is not one. */
export function responseIdOf(text: string): string | undefined {
  try {
    const answer: unknown = JSON.parse(text);
    if (typeof answer !== 'object' || answer === null) return undefined;
    const id = (answer as { id?: unknown }).id;
    return typeof id === 'string' && id !== '' ? id : undefined;
  } catch {
    return undefined;
  }
}
