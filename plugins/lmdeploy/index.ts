/** `type: lmdeploy` — load from LMDeploy's Prometheus /metrics (lmdeploy/metrics/loggers.py, on by default from v0.12). */
import { defineHttpEngine } from '../http/define.js';
import { metricsPage } from '../http/load.js';
import { parseLmdeployError } from './errors.js';
import { readLmdeployLoad } from './load.js';

export default defineHttpEngine({
  type: 'lmdeploy',
  engine: 'lmdeploy',
  // LMDeploy before v0.12 serves /metrics only with --enable-metrics: no load, not an error.
  load: metricsPage('/metrics', readLmdeployLoad, { absentOn404: true }),
  parseError: parseLmdeployError,
});
