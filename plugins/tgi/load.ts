/**
 * TGI's load, from its Prometheus `/metrics` on the API port (huggingface/text-generation-inference
 * v3.3.7: backends/v3/src/queue.rs `tgi_queue_size`, backends/v3/src/backend.rs
 * `tgi_batch_current_size`). TGI exports no KV-cache usage.
 */
import { compactLoad, type EngineLoad } from '../../core/plugin/engine-load.js';
import { parsePrometheusText, sumSamples } from '../../core/plugin/prometheus-text.js';

export function readTgiLoad(text: string): EngineLoad {
  const samples = parsePrometheusText(text).filter((s) => s.name.startsWith('tgi_'));
  return compactLoad({ running: sumSamples(samples, 'tgi_batch_current_size'), waiting: sumSamples(samples, 'tgi_queue_size') });
}
