/** Power of two choices over load = in-flight (every gateway replica's) + the engine's waiting queue. */
import type { PolicyFactory } from '../policy.js';
import { pipelinePolicy } from '../pipeline.js';
import { load, powerOfTwo } from '../stages.js';

export const leastLoadFactory: PolicyFactory = {
  type: 'least-load',
  validate: (options) => Object.keys(options).map((k) => `${k}: least-load takes no options`),
  create: (_options, ctx) => pipelinePolicy({ type: 'least-load', features: 'load', filters: [], objective: load, picker: powerOfTwo(ctx.seed, 'least-load') }, ctx),
};
