/**
 * `type: openai` — any OpenAI-compatible server (SGLang, TGI, llama.cpp, Ollama, xinference…).
 * No load reader: its load is what this gateway has in flight there.
 */
import { defineHttpEngine } from '../http/define.js';
import { parseOpenAiError } from '../http/errors.js';

export default defineHttpEngine({
  type: 'openai',
  engine: (options) => (typeof options.engine === 'string' ? options.engine : 'openai'),
  defaults: { loadIntervalMs: 0, healthPath: '/v1/models' },
  options: {
    keys: ['engine'],
    validate: (options) => (options.engine !== undefined && typeof options.engine !== 'string' ? ['engine: expected a string naming the server (sglang, tgi, …)'] : []),
  },
  parseError: parseOpenAiError,
});
