/**
 * LMDeploy's error bodies (InternLM/lmdeploy: lmdeploy/serve/openai/api_server.py
 * create_error_response, validation_exception_handler; protocol.py ErrorResponse).
 */
import type { UpstreamError } from '../../core/plugin/types.js';
import { fastApiDetailShape, flatErrorShape, nestedErrorShape, parseErrorBody, stringErrorShape } from '../http/errors.js';
import type { ErrorShape } from '../http/errors.js';

const LMDEPLOY_ERROR_SHAPES: readonly ErrorShape[] = [
  // create_error_response: the flat ErrorResponse {"object": "error", message, code, type}, with
  // type always "invalid_request_error" whatever the status (404 unknown model, 400 bad sampling).
  flatErrorShape,
  // validation_exception_handler: pydantic errors answer 422 {"detail": [{type, loc, msg, input}],
  // "body": <the request>}; FastAPI's HTTPException gives {"detail": "text"}.
  fastApiDetailShape,
  // The --api-keys middleware's 401: {"error": "Unauthorized"}, a string.
  stringErrorShape,
  // Not written by LMDeploy; accepted in case a release moves to OpenAI's own shape.
  nestedErrorShape,
];

/** The error in an LMDeploy error body (any of the shapes above, else its text). */
export function parseLmdeployError(status: number, bodyText: string): UpstreamError {
  return parseErrorBody(status, bodyText, LMDEPLOY_ERROR_SHAPES);
}
