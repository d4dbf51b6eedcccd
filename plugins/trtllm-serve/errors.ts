/**
 * trtllm-serve's error bodies (NVIDIA/TensorRT-LLM: tensorrt_llm/serve/openai_server.py
 * create_error_response, validation_exception_handler; openai_protocol.py ErrorResponse).
 */
import type { UpstreamError } from '../../core/plugin/types.js';
import { fastApiDetailShape, flatErrorShape, nestedErrorShape, parseErrorBody, stringErrorShape } from '../http/errors.js';
import type { ErrorShape } from '../http/errors.js';

const TRTLLM_ERROR_SHAPES: readonly ErrorShape[] = [
  // create_error_response(message, err_type="BadRequestError", status_code=400): the flat
  // ErrorResponse {"object": "error", message, type, param, code}.
  flatErrorShape,
  // validation_exception_handler: {"error": str(exc)} with status 400 — pydantic's text in a
  // string, not an error object. Unknown request fields land here too (extra="forbid").
  stringErrorShape,
  // FastAPI itself: {"detail": "Not Found"} for unknown routes.
  fastApiDetailShape,
  // Not written by trtllm-serve; accepted in case a release moves to OpenAI's own shape.
  nestedErrorShape,
];

/** The error in a trtllm-serve error body (any of the shapes above, else its text). */
export function parseTrtllmError(status: number, bodyText: string): UpstreamError {
  return parseErrorBody(status, bodyText, TRTLLM_ERROR_SHAPES);
}
