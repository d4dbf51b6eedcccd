/**
 * A backend's active health: its engine's health path answered 2xx at the last check. Changes
 * are logged once each; passive failures are core's circuit breaker, not this.
 */
import type { BackendHealth, PluginLogger } from '../../core/plugin/types.js';
import type { EngineClient } from './client.js';

export class HealthCheck {
  private state: BackendHealth = { status: 'unknown', since: Date.now() };

  constructor(private readonly client: EngineClient, private readonly path: string, private readonly backendId: string, private readonly log: PluginLogger) {}

  get health(): BackendHealth {
    return this.state;
  }

  async check(): Promise<void> {
    try {
      const res = await this.client.get(this.path);
      if (res.status >= 200 && res.status < 300) {
        this.set('healthy');
      } else {
        this.set('unhealthy', `health check answered ${res.status}`);
      }
    } catch (err) {
      // /ready shows the reason to anyone who asks: the kind of failure, never the engine's
      // address (`connect ECONNREFUSED 10.0.0.5:8000`); the log line has the whole message.
      const code = (err as { code?: unknown } | null)?.code;
      const message = err instanceof Error ? err.message : String(err);
      if (this.state.status !== 'unhealthy') this.log.warn({ backend: this.backendId, err: message }, 'health check failed');
      this.set('unhealthy', `health check failed${typeof code === 'string' ? ` (${code})` : ''}`);
    }
  }

  private set(status: BackendHealth['status'], reason?: string): void {
    if (this.state.status !== status) {
      this.state = { status, reason, since: Date.now() };
      const log = status === 'healthy' ? this.log.info : this.log.warn;
      log.call(this.log, { backend: this.backendId, status, reason }, 'backend health changed');
    } else {
      this.state.reason = reason;
    }
  }
}
