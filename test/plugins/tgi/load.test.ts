import { expect, it } from 'vitest';
import { readTgiLoad } from '../../../plugins/tgi/load.js';

it("reads the batch and queue gauges of TGI's /metrics, and nothing it did not find", () => {
  const text = '# TYPE tgi_queue_size gauge\ntgi_queue_size 3\n# TYPE tgi_batch_current_size gauge\ntgi_batch_current_size 12\n'
    + '# TYPE tgi_request_count counter\ntgi_request_count 40\n';
  expect(readTgiLoad(text)).toEqual({ running: 12, waiting: 3 });
  expect(readTgiLoad('tgi_request_count 40\n')).toEqual({});
});
