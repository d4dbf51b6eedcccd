// See responses.h.
#include "responses.h"

#include <cmath>
#include <memory>
#include <utility>

namespace switchyard {

Napi::Value responseToJs(Napi::Env env, const Response& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("requestId", Napi::Number::New(env, static_cast<double>(r.requestId)));
  Napi::Array tokens = Napi::Array::New(env, r.tokens.size());
  for (size_t i = 0; i < r.tokens.size(); ++i) tokens.Set(static_cast<uint32_t>(i), Napi::Number::New(env, r.tokens[i]));
  o.Set("tokens", tokens);
  o.Set("finishReason", Napi::String::New(env, finishReasonName(r.finishReason)));
  o.Set("isFinal", Napi::Boolean::New(env, r.isFinal));
  o.Set("timeMs", Napi::Number::New(env, r.timeMs));
  if (!r.error.empty()) o.Set("error", Napi::String::New(env, r.error));
  if (r.cachedTokens) o.Set("cachedTokens", Napi::Number::New(env, *r.cachedTokens));
  if (r.timings) {
    const RequestTimings& t = *r.timings;
    Napi::Object tj = Napi::Object::New(env);
    tj.Set("arrivalMs", t.arrivalMs);
    tj.Set("scheduledMs", t.scheduledMs);
    tj.Set("firstTokenMs", t.firstTokenMs);
    tj.Set("finishMs", t.finishMs);
    tj.Set("promptTokens", t.promptTokens);
    tj.Set("cachedTokens", t.cachedTokens);
    tj.Set("preemptions", t.preemptions);
    o.Set("timings", tj);
  }
  return o;
}

Napi::Array responsesToJs(Napi::Env env, const std::vector<Response>& batch) {
  Napi::Array a = Napi::Array::New(env, batch.size());
  for (size_t i = 0; i < batch.size(); ++i) a.Set(static_cast<uint32_t>(i), responseToJs(env, batch[i]));
  return a;
}

namespace {

// One step's responses, kept in native memory; `at(i)` makes response i a JS object when it is
// read. At 10,000 streams a step answers 10,000 requests at once and JS hands them to their
// requests over many turns (plugins/trtllm/index.ts): made up front, the 10,000 objects (~2 MB)
// lived through young-generation collections and were copied by each; read one at a time as its
// turn comes, each dies young.
class ResponseBatch : public Napi::ObjectWrap<ResponseBatch> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "ResponseBatch",
                       {InstanceAccessor("length", &ResponseBatch::Length, nullptr), InstanceMethod("at", &ResponseBatch::At),
                        InstanceMethod("requestIdAt", &ResponseBatch::RequestIdAt), InstanceMethod("release", &ResponseBatch::Release)});
  }

  explicit ResponseBatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ResponseBatch>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "ResponseBatch is made by the engine only");
    std::unique_ptr<std::vector<Response>> owned(info[0].As<Napi::External<std::vector<Response>>>().Data());
    responses_ = std::move(*owned);
    size_ = responses_.size();
    external_ = static_cast<int64_t>(responses_.capacity() * sizeof(Response));
    // The collector sees the native memory this small object holds.
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), external_);
  }

  ~ResponseBatch() override { Free(Env()); }

 private:
  Napi::Value Length(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(size_)); }

  const Response& Checked(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "at(index): index must be a number");
    const double i = info[0].As<Napi::Number>().DoubleValue();
    if (released_) throw Napi::Error::New(env, "the response batch was released");
    if (!(i >= 0 && i < static_cast<double>(size_)) || std::floor(i) != i) throw Napi::RangeError::New(env, "at(index): index out of range");
    return responses_[static_cast<size_t>(i)];
  }

  Napi::Value At(const Napi::CallbackInfo& info) { return responseToJs(info.Env(), Checked(info)); }

  Napi::Value RequestIdAt(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Checked(info).requestId));
  }

  // Frees the responses now rather than when the collector finds this object; at() throws after.
  Napi::Value Release(const Napi::CallbackInfo& info) {
    Free(info.Env());
    return info.Env().Undefined();
  }

  void Free(Napi::Env env) {
    if (released_) return;
    released_ = true;
    std::vector<Response>().swap(responses_);
    if (external_ > 0 && env != nullptr) Napi::MemoryManagement::AdjustExternalMemory(env, -external_);
    external_ = 0;
  }

  std::vector<Response> responses_;
  size_t size_ = 0;
  int64_t external_ = 0;
  bool released_ = false;
};

}  // namespace

void registerResponseBatch(Napi::Env env) {
  // Freed with the environment.
  env.SetInstanceData<Napi::FunctionReference>(new Napi::FunctionReference(Napi::Persistent(ResponseBatch::Init(env))));
}

Napi::Object makeResponseBatch(Napi::Env env, std::vector<Response>&& batch) {
  auto* data = new std::vector<Response>(std::move(batch));
  try {
    return env.GetInstanceData<Napi::FunctionReference>()->New({Napi::External<std::vector<Response>>::New(env, data)});
  } catch (...) {
    delete data;
    throw;
  }
}

}  // namespace switchyard
