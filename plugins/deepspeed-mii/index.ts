/**
 * `type: deepspeed-mii` — DeepSpeed-MII's RESTful gateway (`mii.serve(…, enable_restful_api=True)`):
 * `POST /mii/{deployment_name}` with the client's `generate` keywords as JSON
 * (`{"prompts": [...], "max_length", "max_new_tokens", …}`), answering a JSON list with one
 * `Response` per prompt: `{generated_text, prompt_length, generated_length, finish_reason}`;
 * health at `GET /healthz`. Shapes as deepspeedai/DeepSpeed-MII v0.3.3 writes them
 * (mii/grpc_related/restful_gateway.py, mii/batching/data_classes.py Response, mii/config.py
 * GenerateParamsConfig, mii/constants.py GenerationFinishReason).
 *
 * Non-streamed only: the REST gateway calls `client.generate(**data)` without a streaming
 * function and returns the whole list, so a streamed request gets its SSE answer in one go once
 * the engine has answered (time to first token = the whole generation). No load endpoint: the
 * backend's load is what this gateway has in flight there. Usage is the engine's own counts.
 *
 * MII bounds a generation by `max_length` (prompt + output, default 1024) before `max_new_tokens`,
 * so a request with max_tokens sends both, max_length from the prompt's count here; one without
 * sends neither (MII's defaults). Flask-RESTful answers every failure (a refused parameter too)
 * with 500 `{"message": "Internal Server Error"}`.
 */
import { flatErrorShape, stringErrorShape } from '../http/errors.js';
import { defineTextEngine, type EngineOutput, type TextProtocol } from '../text-engine/http-text-engine.js';
import { isRecord } from '../text-engine/prompt/types.js';

/** The MII deployment requests go to: the `deployment:` option, else the first listed model. */
function deploymentOf(options: Record<string, unknown>, models?: readonly string[]): string {
  return typeof options.deployment === 'string' ? options.deployment : models?.[0] ?? '';
}

function miiProtocol(deployment: string): TextProtocol {
  return {
    streams: false,

    request(req) {
      const { params } = req;
      const s = params.sampling;
      const body: Record<string, unknown> = { prompts: [req.prompt] };
      if (params.maxTokens !== undefined) {
        body.max_new_tokens = params.maxTokens;
        body.max_length = req.promptTokens + params.maxTokens;
      }
      // MII's temperature must be > 0; OpenAI's 0 is greedy decoding (do_sample false).
      if (s.temperature !== undefined) {
        if (s.temperature > 0) body.temperature = s.temperature;
        else body.do_sample = false;
      }
      if (s.topP !== undefined) body.top_p = s.topP;
      if (s.topK !== undefined) body.top_k = s.topK;
      if (req.stop.length > 0) body.stop = req.stop;
      if (params.ignoreEos) body.ignore_eos = true;
      if (params.minTokens > 0) body.min_new_tokens = params.minTokens;
      return { path: `/mii/${encodeURIComponent(deployment)}`, body };
    },

    readAnswer(body): EngineOutput {
      const list = JSON.parse(body) as unknown;
      const r = Array.isArray(list) && isRecord(list[0]) ? list[0] : {};
      const reason = r.finish_reason;
      const counts = {
        ...(typeof r.prompt_length === 'number' ? { promptTokens: r.prompt_length } : {}),
        ...(typeof r.generated_length === 'number' ? { completionTokens: r.generated_length } : {}),
      };
      return {
        text: typeof r.generated_text === 'string' ? r.generated_text : '',
        end: reason === 'length' ? 'length' : reason === 'stop' ? 'stop' : undefined,
        counts,
      };
    },
  };
}

export default defineTextEngine({
  type: 'deepspeed-mii',
  engine: 'deepspeed-mii',
  defaults: { healthPath: '/healthz', loadIntervalMs: 0 },
  options: {
    keys: ['deployment'],
    validate: (options) => (options.deployment !== undefined && (typeof options.deployment !== 'string' || options.deployment === '')
      ? ['deployment: expected the MII deployment name (mii.serve(deployment_name=…))']
      : []),
  },
  check: (spec) => {
    if (spec.options.deployment === undefined && !spec.models?.length) {
      throw new Error(`backend ${spec.id}: deepspeed-mii needs \`deployment:\` (the MII deployment name) or \`models:\``);
    }
  },
  models: (options) => [deploymentOf(options)],
  // Flask-RESTful's {"message": "..."} (flat), or {"error": "..."} from a proxy in front.
  errorShapes: [flatErrorShape, stringErrorShape],
  protocol: (engine) => miiProtocol(deploymentOf(engine.spec.options, engine.spec.models)),
});
