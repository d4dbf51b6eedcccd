#include <stdexcept>

#include "engine.h"
#include "engine_model.h"

namespace switchyard {

const char* finishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNotFinished: return "none";
    case FinishReason::kEndId: return "end-id";
    case FinishReason::kStopWords: return "stop-words";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "error";
}

#ifdef SWITCHYARD_WITH_TRTLLM
// Defined in trtllm_executor.cc, compiled only in a TRTLLM_ROOT build (the in-process
// TensorRT-LLM plugin).
std::unique_ptr<Engine> createTrtllmExecutor(EngineConfig config);
bool hasTensorRtLlm() { return true; }
#else
bool hasTensorRtLlm() { return false; }
#endif

std::unique_ptr<Engine> createEngine(const std::string& executor, EngineConfig config) {
  if (executor == "model") return std::make_unique<EngineModel>(std::move(config));
  if (executor == "tensorrt-llm") {
#ifdef SWITCHYARD_WITH_TRTLLM
    return createTrtllmExecutor(std::move(config));
#else
    throw std::invalid_argument(
        "executor 'tensorrt-llm' is not available: this build of the engine addon was compiled without "
        "TensorRT-LLM (set TRTLLM_ROOT to an installation and run `npm rebuild`)");
#endif
  }
  throw std::invalid_argument("unknown executor '" + executor + "' (expected 'model' or 'tensorrt-llm')");
}

}  // namespace switchyard
