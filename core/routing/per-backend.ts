/** One value per backend id, made on first use: the shape of every per-backend piece of routing state. */
export class PerBackend<T> {
  private readonly byBackend = new Map<string, T>();

  constructor(private readonly make: (backendId: string) => T) {}

  of(backendId: string): T {
    let value = this.byBackend.get(backendId);
    if (value === undefined) {
      value = this.make(backendId);
      this.byBackend.set(backendId, value);
    }
    return value;
  }

  /** Drops a backend's value (the backend left the gateway); the next `of` makes a fresh one. */
  forget(backendId: string): void {
    this.byBackend.delete(backendId);
  }
}
