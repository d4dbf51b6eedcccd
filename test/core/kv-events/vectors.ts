/**
 * A payload a running vLLM published (topic "kv-events", seq 5), printed byte for byte by a
 * pyzmq SUB in a public launch-script note for NVIDIA Dynamo's vLLM worker (code index file
 * 60325318186), from a release of early 2026 (ts 1767666073.8): BlockStored with the 6 fields up to
 * `medium`, the batch with its data_parallel_rank. Both hashes need msgpack's uint64.
 */
export const CAPTURED_VLLM_PAYLOAD = Buffer.from(
  '93cb41da571c66738e519197ab426c6f636b53746f72656491cff35fe17b0d81a24ccfda329fe1bf8aac01dc0010cd1079cd013bcd02a6cd0372' +
  'ce0002505dccc6ce0002505cce00012d23ccc6ce00025073ccc6cd7e390bcd0305cd0166cd04a010c0a347505500',
  'hex',
);
