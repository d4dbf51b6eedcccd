/** Each healthy candidate in turn; the baseline every other profile is measured against. */
import type { PolicyFactory } from '../policy.js';
import { pipelinePolicy } from '../pipeline.js';
import { roundRobin } from '../stages.js';

export const roundRobinFactory: PolicyFactory = {
  type: 'round-robin',
  validate: (options) => Object.keys(options).map((k) => `${k}: round-robin takes no options`),
  create: (_options, ctx) => pipelinePolicy({ type: 'round-robin', features: 'load', filters: [], picker: roundRobin() }, ctx),
};
