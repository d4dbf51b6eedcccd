/**
 * vLLM's error bodies (vllm-project/vllm: vllm/entrypoints/openai/serving_engine.py
 * create_error_response, api_server.py). `code` is the HTTP status and `type` the error class
 * ("BadRequestError", "NotFoundError"; "Bad Request" for request validation).
 */
import type { UpstreamError } from '../../core/plugin/types.js';
import { fastApiDetailShape, flatErrorShape, nestedErrorShape, parseErrorBody, stringErrorShape } from '../http/errors.js';
import type { ErrorShape } from '../http/errors.js';

const VLLM_ERROR_SHAPES: readonly ErrorShape[] = [
  // ≈0.10 and later: {"error": {message, type, param, code}}, also inside a stream after the 200.
  nestedErrorShape,
  // Older releases: the flat ErrorResponse {"object": "error", message, type, param, code}.
  flatErrorShape,
  // The --api-key middleware's 401: {"error": "Unauthorized"}, a string.
  stringErrorShape,
  // FastAPI itself: {"detail": "Not Found"} for unknown routes; 422 validation lists in old releases.
  fastApiDetailShape,
];

/** The error in a vLLM error body (any of the shapes above, else its text). */
export function parseVllmError(status: number, bodyText: string): UpstreamError {
  return parseErrorBody(status, bodyText, VLLM_ERROR_SHAPES);
}
