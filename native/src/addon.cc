// The N-API surface: the `Engine` class, and the `ResponseBatch` a real-clock engine hands its
// listener. Mirrored by native/engine.ts and native/types.ts.
//
// With a real clock, the engine thread hands each batch of responses to JS through a
// ThreadSafeFunction whose queue is bounded: a JS thread that falls behind makes the engine
// thread wait instead of buffering without bound. close() aborts the queue and joins the thread.
#include <napi.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>

#include "engine.h"
#include "responses.h"

namespace {

using namespace switchyard;

double numberOr(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool boolOr(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// An optional number: undefined/null → nullopt; anything but a finite number → TypeError.
std::optional<double> optionalNumber(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) {
    throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a finite number");
  }
  return v.As<Napi::Number>().DoubleValue();
}

// A 64-bit unsigned option given as a BigInt or a non-negative integer number.
uint64_t uint64Or(const Napi::Object& o, const char* key, uint64_t fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (v.IsBigInt()) {
    bool lossless = true;
    const uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(o.Env(), std::string(key) + " must fit in 64 bits unsigned");
    return x;
  }
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0) {
    throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a non-negative integer or a BigInt");
  }
  return static_cast<uint64_t>(d);
}

SamplingParams parseSampling(const Napi::Object& o) {
  SamplingParams s;
  Napi::Env env = o.Env();
  if (auto t = optionalNumber(o, "temperature")) {
    if (*t < 0) throw Napi::RangeError::New(env, "temperature must be >= 0");
    s.temperature = static_cast<float>(*t);
  }
  if (auto p = optionalNumber(o, "topP")) {
    if (!(*p > 0 && *p <= 1)) throw Napi::RangeError::New(env, "topP must be in (0, 1]");
    s.topP = static_cast<float>(*p);
  }
  if (auto k = optionalNumber(o, "topK")) {
    if (*k < 0 || *k != std::floor(*k) || *k > 1e9) throw Napi::RangeError::New(env, "topK must be a non-negative integer");
    if (*k > 0) s.topK = static_cast<int>(*k);  // 0: no top-k
  }
  if (!o.Get("seed").IsUndefined() && !o.Get("seed").IsNull()) s.seed = uint64Or(o, "seed", 0);
  if (auto r = optionalNumber(o, "repetitionPenalty")) {
    if (*r <= 0) throw Napi::RangeError::New(env, "repetitionPenalty must be > 0");
    s.repetitionPenalty = static_cast<float>(*r);
  }
  if (auto p = optionalNumber(o, "presencePenalty")) s.presencePenalty = static_cast<float>(*p);
  if (auto f = optionalNumber(o, "frequencyPenalty")) s.frequencyPenalty = static_cast<float>(*f);
  return s;
}

std::string stringOr(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<TokenId> tokenList(Napi::Env env, Napi::Value v, const char* what) {
  std::vector<TokenId> out;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    out.assign(a.Data(), a.Data() + a.ElementLength());
  } else if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    out.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value t = a.Get(i);
      if (!t.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must hold token ids");
      out.push_back(t.As<Napi::Number>().Int32Value());
    }
  } else {
    throw Napi::TypeError::New(env, std::string(what) + " must be an Int32Array or an array of token ids");
  }
  return out;
}

EngineProfile parseProfile(Napi::Object p) {
  EngineProfile e;
  e.name = stringOr(p, "name", "unnamed");
  e.blockSize = static_cast<int>(numberOr(p, "blockSize", e.blockSize));
  e.numBlocks = static_cast<int>(numberOr(p, "numBlocks", e.numBlocks));
  e.maxBatchSize = static_cast<int>(numberOr(p, "maxBatchSize", e.maxBatchSize));
  e.maxNumTokens = static_cast<int>(numberOr(p, "maxNumTokens", e.maxNumTokens));
  e.chunkedPrefill = boolOr(p, "chunkedPrefill", e.chunkedPrefill);
  e.enablePrefixCaching = boolOr(p, "enablePrefixCaching", e.enablePrefixCaching);
  const std::string policy = stringOr(p, "schedulerPolicy", "max-utilization");
  if (policy == "guaranteed-no-evict") {
    e.schedulerPolicy = SchedulerPolicy::kGuaranteedNoEvict;
  } else if (policy == "max-utilization") {
    e.schedulerPolicy = SchedulerPolicy::kMaxUtilization;
  } else {
    throw Napi::TypeError::New(p.Env(), "schedulerPolicy must be 'guaranteed-no-evict' or 'max-utilization'");
  }
  e.stepBaseMs = numberOr(p, "stepBaseMs", e.stepBaseMs);
  e.stepPerSeqMs = numberOr(p, "stepPerSeqMs", e.stepPerSeqMs);
  e.stepPerPrefillTokenMs = numberOr(p, "stepPerPrefillTokenMs", e.stepPerPrefillTokenMs);
  e.stepPerKvTokenMs = numberOr(p, "stepPerKvTokenMs", e.stepPerKvTokenMs);
  e.maxModelLen = static_cast<int>(numberOr(p, "maxModelLen", e.maxModelLen));
  e.maxQueueSize = static_cast<int>(numberOr(p, "maxQueueSize", e.maxQueueSize));
  if (e.blockSize < 1 || e.numBlocks < 1 || e.maxBatchSize < 1 || e.maxNumTokens < 1 || e.maxModelLen < 2) {
    throw Napi::RangeError::New(p.Env(), "profile sizes (blockSize, numBlocks, maxBatchSize, maxNumTokens, maxModelLen) must be positive");
  }
  return e;
}

Napi::Value bigHash(Napi::Env env, BlockHash h) { return Napi::BigInt::New(env, static_cast<uint64_t>(h)); }

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod("enqueue", &EngineWrap::Enqueue), InstanceMethod("cancel", &EngineWrap::Cancel),
                        InstanceMethod("step", &EngineWrap::Step),
                        InstanceMethod("advanceTo", &EngineWrap::AdvanceTo), InstanceMethod("nowMs", &EngineWrap::NowMs),
                        InstanceMethod("snapshot", &EngineWrap::Snapshot),
                        InstanceMethod("getLatestIterationStats", &EngineWrap::IterStats),
                        InstanceMethod("getLatestKvEvents", &EngineWrap::KvEvents),
                        InstanceMethod("close", &EngineWrap::Close)});
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "new Engine(options, listener): options must be an object");
    Napi::Object opts = info[0].As<Napi::Object>();
    if (!opts.Get("profile").IsObject()) throw Napi::TypeError::New(env, "options.profile must be an object");
    EngineConfig config;
    config.profile = parseProfile(opts.Get("profile").As<Napi::Object>());
    config.timeScale = numberOr(opts, "timeScale", 1.0);
    const std::string clock = stringOr(opts, "clock", "real");
    if (clock != "real" && clock != "manual") throw Napi::TypeError::New(env, "clock must be 'real' or 'manual'");
    config.manualClock = clock == "manual";
    if (!opts.Get("outputTokenPool").IsUndefined()) config.outputTokenPool = tokenList(env, opts.Get("outputTokenPool"), "outputTokenPool");
    config.kvEventBufferSize = static_cast<size_t>(numberOr(opts, "kvEventBufferSize", 0));
    config.engineDir = stringOr(opts, "engineDir", "");
    config.kvCacheFreeGpuMemoryFraction = numberOr(opts, "kvCacheFreeGpuMemoryFraction", 0.9);
    config.iterStatsBufferSize = static_cast<size_t>(numberOr(opts, "iterStatsBufferSize", 1000));
    config.blockHashSeed = uint64Or(opts, "blockHashSeed", 0);
    config.statsPollMs = static_cast<int>(numberOr(opts, "statsPollMs", 100));
    if (config.statsPollMs < 1) throw Napi::RangeError::New(env, "statsPollMs must be at least 1");
    const size_t queueSize = static_cast<size_t>(numberOr(opts, "responseQueueSize", 256));
    const std::string executor = stringOr(opts, "executor", "model");
    try {
      engine_ = createEngine(executor, std::move(config));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    if (!engine_) throw Napi::Error::New(env, "engine creation failed");
    if (clock == "real") {
      if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "a real-clock engine needs a listener function");
      tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "switchyard-engine", queueSize, 1);
      // The queue keeps the process alive only while requests are in flight (see Enqueue and
      // OnBatch): an idle engine must not hold a process open, a busy one must.
      tsfn_.Unref(env);
      hasTsfn_ = true;
      Napi::ThreadSafeFunction tsfn = tsfn_;
      EngineWrap* self = this;
      engine_->start([tsfn, self](std::vector<Response>&& batch) mutable {
        auto* data = new std::vector<Response>(std::move(batch));
        napi_status status = tsfn.BlockingCall(data, [self](Napi::Env env, Napi::Function fn, std::vector<Response>* d) {
          std::unique_ptr<std::vector<Response>> owned(d);
          if (env == nullptr || fn.IsEmpty()) return;  // queue aborted at close()
          self->OnBatch(env, fn, std::move(*owned));
        });
        if (status != napi_ok) delete data;
      });
    }
    // At environment teardown (process exit, worker exit) an engine nobody closed still stops
    // and joins its thread; the hook goes away with the object.
    cleanupHook_ = env.AddCleanupHook(std::function<void()>([this] {
      hookRan_ = true;  // node-addon-api frees the hook's data after running it
      Shutdown();
    }));
  }

  ~EngineWrap() override {
    Shutdown();
    if (!hookRan_) cleanupHook_.Remove(Env());
  }

 private:
  void Shutdown() {
    if (closed_) return;
    closed_ = true;
    // Abort first: the engine thread may be blocked in BlockingCall on a full queue that this
    // (JS) thread is not draining; abort wakes it with napi_closing, then the join cannot hang.
    if (hasTsfn_) tsfn_.Abort();
    if (engine_) engine_->stop();
  }

  // JS thread: hand a batch to the listener and drop the keep-alive once nothing is in flight.
  void OnBatch(Napi::Env env, Napi::Function fn, std::vector<Response>&& batch) {
    for (const Response& r : batch) {
      if (r.isFinal && inFlight_ > 0) --inFlight_;
    }
    if (inFlight_ == 0 && refed_ && !closed_) {
      tsfn_.Unref(env);
      refed_ = false;
    }
    fn.Call({makeResponseBatch(env, std::move(batch))});
  }

  Engine& live(Napi::Env env) {
    if (closed_ || !engine_) throw Napi::Error::New(env, "the engine is closed");
    return *engine_;
  }

  Napi::Value Enqueue(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "enqueue(request): request must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    Request r;
    r.inputTokenIds = tokenList(env, o.Get("inputTokenIds"), "inputTokenIds");
    r.maxTokens = static_cast<int>(numberOr(o, "maxTokens", 16));
    r.endId = static_cast<TokenId>(numberOr(o, "endId", -1));
    r.ignoreEos = boolOr(o, "ignoreEos", false);
    r.minTokens = static_cast<int>(numberOr(o, "minTokens", 0));
    r.streaming = boolOr(o, "streaming", false);
    r.priority = static_cast<float>(numberOr(o, "priority", 0.5));
    r.sampling = parseSampling(o);
    if (!o.Get("scriptedOutput").IsUndefined()) r.scriptedOutput = tokenList(env, o.Get("scriptedOutput"), "scriptedOutput");
    Napi::Value stops = o.Get("stopTokenSequences");
    if (stops.IsArray()) {
      Napi::Array a = stops.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) r.stopTokenSequences.push_back(tokenList(env, a.Get(i), "stopTokenSequences[i]"));
    }
    try {
      const RequestId id = live(env).enqueue(std::move(r));
      if (hasTsfn_ && inFlight_++ == 0 && !refed_) {
        tsfn_.Ref(env);
        refed_ = true;
      }
      return Napi::Number::New(env, static_cast<double>(id));
    } catch (const Napi::Error&) {
      throw;
    } catch (const QueueFullError& e) {
      // A full queue is a retryable refusal: JS tells it by code, not by message.
      Napi::Error err = Napi::Error::New(env, e.what());
      err.Set("code", Napi::String::New(env, "ENGINE_QUEUE_FULL"));
      throw err;
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "cancel(requestId): requestId must be a number");
    const auto id = static_cast<RequestId>(info[0].As<Napi::Number>().Int64Value());
    // After close() every request is gone: cancelling one is a no-op, not an error (a client
    // disconnect may race a shutdown).
    if (closed_ || !engine_) return Napi::Boolean::New(env, false);
    return Napi::Boolean::New(env, engine_->cancel(id));
  }

  Napi::Value Step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      return responsesToJs(env, live(env).step());
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  Napi::Value AdvanceTo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "advanceTo(ms): ms must be a number");
    try {
      live(env).advanceTo(info[0].As<Napi::Number>().DoubleValue());
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    return env.Undefined();
  }

  Napi::Value NowMs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env()).nowMs()); }

  Napi::Value Snapshot(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const EngineSnapshot s = live(env).snapshot();
    Napi::Object o = Napi::Object::New(env);
    o.Set("nowMs", s.nowMs);
    o.Set("running", s.running);
    o.Set("waiting", s.waiting);
    o.Set("kvUsage", s.kvUsage);
    o.Set("usedBlocks", s.usedBlocks);
    o.Set("cachedBlocks", s.cachedBlocks);
    o.Set("numBlocks", s.numBlocks);
    o.Set("blockSize", s.blockSize);
    o.Set("prefixQueryTokens", static_cast<double>(s.prefixQueryTokens));
    o.Set("prefixHitTokens", static_cast<double>(s.prefixHitTokens));
    o.Set("promptTokens", static_cast<double>(s.promptTokens));
    o.Set("generationTokens", static_cast<double>(s.generationTokens));
    o.Set("preemptions", static_cast<double>(s.preemptions));
    o.Set("iterations", static_cast<double>(s.iterations));
    o.Set("completed", static_cast<double>(s.completed));
    return o;
  }

  Napi::Value IterStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::vector<IterationStats> stats = live(env).drainIterationStats();
    Napi::Array a = Napi::Array::New(env, stats.size());
    for (size_t i = 0; i < stats.size(); ++i) {
      const IterationStats& s = stats[i];
      Napi::Object kv = Napi::Object::New(env);
      kv.Set("maxNumBlocks", s.kv.maxNumBlocks);
      kv.Set("freeNumBlocks", s.kv.freeNumBlocks);
      kv.Set("usedNumBlocks", s.kv.usedNumBlocks);
      kv.Set("tokensPerBlock", s.kv.tokensPerBlock);
      kv.Set("allocTotalBlocks", static_cast<double>(s.kv.allocTotalBlocks));
      kv.Set("allocNewBlocks", static_cast<double>(s.kv.allocNewBlocks));
      kv.Set("reusedBlocks", static_cast<double>(s.kv.reusedBlocks));
      kv.Set("missedBlocks", static_cast<double>(s.kv.missedBlocks));
      kv.Set("cacheHitRate", s.kv.cacheHitRate);
      Napi::Object ifb = Napi::Object::New(env);
      ifb.Set("numScheduledRequests", s.numScheduledRequests);
      ifb.Set("numContextRequests", s.numContextRequests);
      ifb.Set("numGenRequests", s.numGenRequests);
      ifb.Set("numPausedRequests", s.numPausedRequests);
      ifb.Set("numCtxTokens", s.numCtxTokens);
      ifb.Set("microBatchId", 0);
      Napi::Object o = Napi::Object::New(env);
      o.Set("iter", static_cast<double>(s.iter));
      o.Set("iterLatencyMS", s.iterLatencyMs);
      o.Set("timestampMs", s.timestampMs);
      o.Set("numActiveRequests", s.numActiveRequests);
      o.Set("numQueuedRequests", s.numQueuedRequests);
      o.Set("numCompletedRequests", s.numCompletedRequests);
      o.Set("maxNumActiveRequests", s.maxNumActiveRequests);
      o.Set("kvCacheStats", kv);
      o.Set("inflightBatchingStats", ifb);
      a.Set(static_cast<uint32_t>(i), o);
    }
    return a;
  }

  Napi::Value KvEvents(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::vector<KvCacheEvent> events = live(env).drainKvEvents();
    Napi::Array a = Napi::Array::New(env, events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      const KvCacheEvent& e = events[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("eventId", static_cast<double>(e.eventId));
      switch (e.type) {
        case KvCacheEvent::Type::kCreated:
          o.Set("type", "created");
          o.Set("numBlocks", e.numBlocks);
          if (e.blockSize > 0) o.Set("blockSize", e.blockSize);
          break;
        case KvCacheEvent::Type::kCleared:
          o.Set("type", "cleared");
          break;
        case KvCacheEvent::Type::kUpdated:
          o.Set("type", "updated");
          break;
        case KvCacheEvent::Type::kRemoved: {
          o.Set("type", "removed");
          Napi::Array hs = Napi::Array::New(env, e.removed.size());
          for (size_t j = 0; j < e.removed.size(); ++j) hs.Set(static_cast<uint32_t>(j), bigHash(env, e.removed[j]));
          o.Set("blockHashes", hs);
          break;
        }
        case KvCacheEvent::Type::kStored: {
          o.Set("type", "stored");
          o.Set("parentHash", e.parentHash ? bigHash(env, *e.parentHash) : env.Null());
          Napi::Array blocks = Napi::Array::New(env, e.blocks.size());
          for (size_t j = 0; j < e.blocks.size(); ++j) {
            Napi::Object b = Napi::Object::New(env);
            b.Set("blockHash", bigHash(env, e.blocks[j].hash));
            Napi::Array toks = Napi::Array::New(env, e.blocks[j].tokens.size());
            for (size_t k = 0; k < e.blocks[j].tokens.size(); ++k) toks.Set(static_cast<uint32_t>(k), e.blocks[j].tokens[k]);
            b.Set("tokens", toks);
            blocks.Set(static_cast<uint32_t>(j), b);
          }
          o.Set("blocks", blocks);
          break;
        }
      }
      a.Set(static_cast<uint32_t>(i), o);
    }
    return a;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  std::unique_ptr<Engine> engine_;
  Napi::Env::CleanupHook<std::function<void()>> cleanupHook_;
  Napi::ThreadSafeFunction tsfn_;
  bool hasTsfn_ = false;
  bool refed_ = false;
  size_t inFlight_ = 0;  // enqueued, final response not yet delivered (JS thread only)
  bool closed_ = false;
  bool hookRan_ = false;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Init(env));
  registerResponseBatch(env);
  exports.Set("hasTensorRtLlm", Napi::Boolean::New(env, hasTensorRtLlm()));
  return exports;
}

}  // namespace

NODE_API_MODULE(switchyard_engine, Init)
