// The TensorRT-LLM implementation of the engine abstraction (engine.h), on TensorRT-LLM's
// Executor API (tensorrt_llm/executor/executor.h), written against the public headers of
// TensorRT-LLM v0.17.0. Compiled only when TRTLLM_ROOT points to an installation
// (binding.gyp); native/check-trtllm.sh compile-checks it against the v0.17.0 headers without a
// GPU. It has never run on Switchyard's CI machines. Everything around it is tested on the engine
// model, which implements the same abstraction.
//
// What the executor reports and how it reaches the gateway:
//   - load: a poller thread pulls getLatestIterationStats() every statsPollMs into snapshot() and
//     a bounded buffer that drainIterationStats() hands out, each iteration stamped with its own
//     end time (IterationStats::timestamp);
//   - KV capacity and block size: KvCacheStats::{maxNumBlocks, tokensPerBlock} of those stats;
//   - cached tokens and timings: Result::requestPerfMetrics (OutputConfig::returnPerfMetrics).
#include <tensorrt_llm/executor/executor.h>
#include <tensorrt_llm/plugins/api/tllmPlugin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <iomanip>
#include <list>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "engine.h"

namespace tle = tensorrt_llm::executor;

namespace switchyard {
namespace {

using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

FinishReason fromTrt(tle::FinishReason r) {
  switch (r) {
    case tle::FinishReason::kEND_ID: return FinishReason::kEndId;
    case tle::FinishReason::kSTOP_WORDS: return FinishReason::kStopWords;
    case tle::FinishReason::kLENGTH: return FinishReason::kLength;
    case tle::FinishReason::kCANCELLED: return FinishReason::kCancelled;
    // Only with Request::allottedTimeMs, which Switchyard never sets: the engine gave up on it.
    case tle::FinishReason::kTIMED_OUT: return FinishReason::kCancelled;
    default: return FinishReason::kNotFinished;
  }
}

tle::SamplingConfig samplingOf(const Request& r) {
  const SamplingParams& s = r.sampling;
  std::optional<tle::SizeType32> topK = s.topK;
  std::optional<tle::FloatType> topP = s.topP;
  std::optional<tle::FloatType> temperature = s.temperature;
  if (s.temperature && *s.temperature == 0.0f) {
    // OpenAI's temperature 0 means greedy; TensorRT-LLM's temperature "can have values > 0.f"
    // (executor.h v0.17.0, SamplingConfig::mTemperature), and top-k 1 is its greedy sampler.
    topK = 1;
    topP.reset();
    temperature.reset();
  }
  std::optional<tle::SizeType32> minTokens;
  if (r.minTokens > 0) minTokens = r.minTokens;
  // Positional, as the v0.17.0 constructor declares them: beamWidth, topK, topP, topPMin,
  // topPResetIds, topPDecay, seed, temperature, minTokens, beamSearchDiversityRate,
  // repetitionPenalty, presencePenalty, frequencyPenalty (then lengthPenalty, … defaulted).
  return tle::SamplingConfig(/*beamWidth=*/1, topK, topP, /*topPMin=*/std::nullopt, /*topPResetIds=*/std::nullopt,
                             /*topPDecay=*/std::nullopt, s.seed, temperature, minTokens,
                             /*beamSearchDiversityRate=*/std::nullopt, s.repetitionPenalty, s.presencePenalty,
                             s.frequencyPenalty);
}

// IterationStats::timestamp is text: common::getCurrentTimestamp() (cpp/tensorrt_llm/common/
// timestampUtils.cpp) writes the local time as "%m-%d-%Y %H:%M:%S" plus ".%06d" microseconds.
std::optional<SystemClock::time_point> parseTimestamp(const std::string& text) {
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%m-%d-%Y %H:%M:%S");
  if (in.fail()) return std::nullopt;
  long micros = 0;
  if (in.peek() == '.') {
    in.get();
    in >> micros;
    if (in.fail()) micros = 0;
  }
  tm.tm_isdst = -1;
  const std::time_t seconds = std::mktime(&tm);
  if (seconds == static_cast<std::time_t>(-1)) return std::nullopt;
  return SystemClock::from_time_t(seconds) + std::chrono::microseconds(micros);
}

class TrtllmExecutor final : public Engine {
 public:
  explicit TrtllmExecutor(EngineConfig config)
      : config_(std::move(config)), epoch_(SteadyClock::now()), systemEpoch_(SystemClock::now()) {
    initTrtLlmPlugins();
    const EngineProfile& p = config_.profile;
    tle::KvCacheConfig kv;
    kv.setEnableBlockReuse(p.enablePrefixCaching);
    kv.setFreeGpuMemoryFraction(static_cast<float>(config_.kvCacheFreeGpuMemoryFraction));
    if (config_.kvEventBufferSize > 0) kv.setEventBufferMaxSize(config_.kvEventBufferSize);
    tle::ExecutorConfig ec(1, tle::SchedulerConfig(p.schedulerPolicy == SchedulerPolicy::kGuaranteedNoEvict
                                                       ? tle::CapacitySchedulerPolicy::kGUARANTEED_NO_EVICT
                                                       : tle::CapacitySchedulerPolicy::kMAX_UTILIZATION),
                           kv);
    ec.setMaxBatchSize(p.maxBatchSize);
    // At most the engine's build-time max_num_tokens; the executor rejects a larger value.
    ec.setMaxNumTokens(p.maxNumTokens);
    // A full queue makes enqueueRequest throw (executorImpl.cpp, v0.17.0): see enqueue().
    if (p.maxQueueSize > 0) ec.setMaxQueueSize(p.maxQueueSize);
    ec.setEnableChunkedContext(p.chunkedPrefill);
    ec.setIterStatsMaxIterations(static_cast<tle::SizeType32>(config_.iterStatsBufferSize));
    executor_ = std::make_unique<tle::Executor>(config_.engineDir, tle::ModelType::kDECODER_ONLY, ec);
    if (!executor_->canEnqueueRequests()) throw std::runtime_error("TensorRT-LLM executor cannot enqueue requests on this rank");
    poller_ = std::thread([this] { pollLoop(); });
  }

  ~TrtllmExecutor() override { stop(); }

  RequestId enqueue(Request r) override {
    tle::OutputConfig out;
    out.excludeInputFromOutput = true;
    out.returnPerfMetrics = true;  // Result::requestPerfMetrics: reused blocks and timings
    const int promptTokens = static_cast<int>(r.inputTokenIds.size());
    tle::SamplingConfig sampling = samplingOf(r);
    tle::Request req(std::move(r.inputTokenIds), r.maxTokens, /*streaming=*/true, sampling, out);
    if (r.endId >= 0 && !r.ignoreEos) req.setEndId(r.endId);
    if (!r.stopTokenSequences.empty()) {
      std::list<tle::VecTokens> stops(r.stopTokenSequences.begin(), r.stopTokenSequences.end());
      req.setStopWords(stops);
    }
    req.setPriority(r.priority);
    // Held across the call so the response thread cannot see the request before it is listed.
    std::lock_guard<std::mutex> lock(mu_);
    RequestId id = 0;
    try {
      id = executor_->enqueueRequest(req);
    } catch (const std::exception& e) {
      // TLLM_THROW("Maximum queue size of %d has been reached, please try again later")
      // (cpp/tensorrt_llm/executor/executorImpl.cpp, v0.17.0): a TllmException like any other,
      // so it is told by its text.
      if (std::string(e.what()).find("Maximum queue size") != std::string::npos) throw QueueFullError(e.what());
      throw std::invalid_argument(e.what());
    }
    requests_[id] = InFlight{promptTokens, false};
    return id;
  }

  bool cancel(RequestId id) override {
    executor_->cancelRequest(id);
    return true;
  }

  std::vector<Response> step() override { throw std::logic_error("the TensorRT-LLM executor has no manual clock"); }
  void advanceTo(double) override { throw std::logic_error("the TensorRT-LLM executor has no manual clock"); }

  double nowMs() const override { return msSinceEpoch(SteadyClock::now()); }

  EngineSnapshot snapshot() const override {
    std::lock_guard<std::mutex> lock(mu_);
    EngineSnapshot s = last_;
    s.nowMs = nowMs();
    return s;
  }

  std::vector<IterationStats> drainIterationStats() override {
    pollStats();
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<IterationStats> out(buffered_.begin(), buffered_.end());
    buffered_.clear();
    return out;
  }

  std::vector<KvCacheEvent> drainKvEvents() override {
    std::vector<KvCacheEvent> out;
    auto manager = executor_->getKVCacheEventManager();
    if (!manager || !*manager) return out;
    for (auto const& e : (*manager)->getLatestEvents(std::chrono::milliseconds(0))) {
      if (auto const* stored = std::get_if<tle::KVCacheStoredData>(&e.data)) {
        KvCacheEvent x(KvCacheEvent::Type::kStored);
        x.parentHash = stored->parentHash;
        for (auto const& b : stored->blocks) {
          StoredBlock sb{b.blockHash, {}};
          sb.tokens.reserve(b.tokens.size());
          for (auto const& t : b.tokens) sb.tokens.push_back(t.tokenId);
          x.blocks.push_back(std::move(sb));
        }
        x.eventId = e.eventId;
        out.push_back(std::move(x));
      } else if (auto const* removed = std::get_if<tle::KVCacheRemovedData>(&e.data)) {
        KvCacheEvent x(KvCacheEvent::Type::kRemoved);
        x.removed.assign(removed->blockHashes.begin(), removed->blockHashes.end());
        x.eventId = e.eventId;
        out.push_back(std::move(x));
      } else if (auto const* created = std::get_if<tle::KVCacheCreatedData>(&e.data)) {
        // numBlocksPerCacheLevel: [primary (GPU), secondary (host)]; the block size is not in it.
        KvCacheEvent x(KvCacheEvent::Type::kCreated);
        x.numBlocks = created->numBlocksPerCacheLevel.empty() ? 0 : created->numBlocksPerCacheLevel[0];
        x.blockSize = tokensPerBlock_.load();
        x.eventId = e.eventId;
        out.push_back(std::move(x));
      } else {
        // KVCacheUpdatedData (a block moved between cache levels, or its priority changed): the
        // block is still held, so the tracker's picture is unchanged; its id must still count, or
        // the next event would look like a gap.
        KvCacheEvent x(KvCacheEvent::Type::kUpdated);
        x.eventId = e.eventId;
        out.push_back(std::move(x));
      }
    }
    return out;
  }

  void start(ResponseSink sink) override {
    sink_ = std::move(sink);
    thread_ = std::thread([this] { loop(); });
  }

  void stop() override {
    if (stopping_.exchange(true)) return;
    pollWake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (poller_.joinable()) poller_.join();
    if (executor_) executor_->shutdown();
  }

 private:
  struct InFlight {
    int promptTokens = 0;
    bool reportedCached = false;
  };

  double msSinceEpoch(SteadyClock::time_point t) const {
    return std::chrono::duration<double, std::milli>(t - epoch_).count();
  }

  // RequestPerfMetrics::TimePoint is a steady_clock time point (types.h v0.17.0); an unset one is
  // the clock's epoch.
  double msOr(tle::RequestPerfMetrics::TimePoint t, double fallback) const {
    return t.time_since_epoch().count() == 0 ? fallback : msSinceEpoch(t);
  }

  void pollLoop() {
    std::unique_lock<std::mutex> lock(pollWakeMu_);
    while (!stopping_) {
      lock.unlock();
      pollStats();
      lock.lock();
      pollWake_.wait_for(lock, std::chrono::milliseconds(config_.statsPollMs), [this] { return stopping_.load(); });
    }
  }

  // Pulls the iterations since the last pull: the newest one becomes snapshot(), all of them wait
  // in a bounded buffer for drainIterationStats(). One puller at a time keeps them in order.
  void pollStats() {
    std::lock_guard<std::mutex> pollLock(pollMu_);
    std::deque<tle::IterationStats> stats;
    try {
      stats = executor_->getLatestIterationStats();
    } catch (const std::exception&) {
      return;  // shutting down
    }
    if (stats.empty()) return;
    const double pulledAtMs = nowMs();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto const& s : stats) {
      IterationStats x;
      x.iter = s.iter;
      x.iterLatencyMs = s.iterLatencyMS;
      const auto at = parseTimestamp(s.timestamp);
      x.timestampMs = at ? std::chrono::duration<double, std::milli>(*at - systemEpoch_).count() : pulledAtMs;
      x.numActiveRequests = s.numActiveRequests;
      x.numQueuedRequests = s.numQueuedRequests;
      x.numCompletedRequests = s.numCompletedRequests;
      x.maxNumActiveRequests = s.maxNumActiveRequests;
      if (s.kvCacheStats) {
        auto const& k = *s.kvCacheStats;
        x.kv = {k.maxNumBlocks, k.freeNumBlocks, k.usedNumBlocks, k.tokensPerBlock, k.allocTotalBlocks, k.allocNewBlocks,
                k.reusedBlocks, k.missedBlocks, k.cacheHitRate};
        if (k.tokensPerBlock > 0) tokensPerBlock_ = k.tokensPerBlock;
      }
      if (s.inflightBatchingStats) {
        auto const& b = *s.inflightBatchingStats;
        x.numScheduledRequests = b.numScheduledRequests;
        x.numContextRequests = b.numContextRequests;
        x.numGenRequests = b.numGenRequests;
        x.numPausedRequests = b.numPausedRequests;
        x.numCtxTokens = b.numCtxTokens;
      }
      last_.running = x.numActiveRequests;
      last_.waiting = x.numQueuedRequests;
      last_.iterations = static_cast<int64_t>(x.iter) + 1;
      last_.completed += x.numCompletedRequests;
      if (s.kvCacheStats) {
        const KvCacheStats& k = x.kv;
        last_.usedBlocks = k.usedNumBlocks;
        last_.numBlocks = k.maxNumBlocks;
        last_.blockSize = k.tokensPerBlock;
        last_.kvUsage = k.maxNumBlocks > 0 ? static_cast<double>(k.usedNumBlocks) / k.maxNumBlocks : 0.0;
        // The block manager's reuse counters run since start: block lookups, in tokens.
        last_.prefixHitTokens = static_cast<int64_t>(k.reusedBlocks) * k.tokensPerBlock;
        last_.prefixQueryTokens = static_cast<int64_t>(k.reusedBlocks + k.missedBlocks) * k.tokensPerBlock;
      }
      buffered_.push_back(x);
    }
    while (buffered_.size() > std::max<size_t>(config_.iterStatsBufferSize, 1)) buffered_.pop_front();
  }

  // One thread awaits responses and hands them to JS in batches (the sink blocks when the JS
  // side's bounded queue is full).
  void loop() {
    while (!stopping_) {
      std::vector<tle::Response> responses = executor_->awaitResponses(std::chrono::milliseconds(5));
      if (responses.empty()) continue;
      // Cached tokens are reused blocks × tokens per block; the first iteration's stats say the latter.
      if (tokensPerBlock_.load() == 0) pollStats();
      std::vector<Response> batch;
      batch.reserve(responses.size());
      for (auto const& r : responses) batch.push_back(convert(r));
      sink_(std::move(batch));
    }
  }

  Response convert(const tle::Response& r) {
    Response out;
    out.requestId = r.getRequestId();
    out.timeMs = nowMs();
    std::lock_guard<std::mutex> lock(mu_);
    auto it = requests_.find(out.requestId);
    if (r.hasError()) {
      out.isFinal = true;
      out.finishReason = FinishReason::kError;
      out.error = r.getErrorMsg();
    } else {
      tle::Result const& result = r.getResult();
      if (!result.outputTokenIds.empty()) out.tokens = result.outputTokenIds[0];
      out.isFinal = result.isFinal;
      if (!result.finishReasons.empty()) out.finishReason = fromTrt(result.finishReasons[0]);
      if (result.requestPerfMetrics && it != requests_.end()) {
        const tle::RequestPerfMetrics& m = *result.requestPerfMetrics;
        const int tpb = tokensPerBlock_.load();
        const int promptTokens = it->second.promptTokens;
        // Reused blocks are whole blocks of the prompt; never more than the prompt.
        const int cached = tpb > 0 ? std::min(m.kvCacheMetrics.numReusedBlocks * tpb, promptTokens) : 0;
        if (!it->second.reportedCached && (!out.tokens.empty() || out.isFinal)) {
          out.cachedTokens = cached;
          it->second.reportedCached = true;
        }
        if (out.isFinal) {
          RequestTimings t;
          t.arrivalMs = msOr(m.timingMetrics.arrivalTime, out.timeMs);
          t.scheduledMs = msOr(m.timingMetrics.firstScheduledTime, t.arrivalMs);
          t.firstTokenMs = msOr(m.timingMetrics.firstTokenTime, out.timeMs);
          t.finishMs = msOr(m.timingMetrics.lastTokenTime, out.timeMs);
          t.promptTokens = promptTokens;
          t.cachedTokens = cached;
          out.timings = t;
        }
      }
    }
    if (out.isFinal && it != requests_.end()) requests_.erase(it);
    return out;
  }

  EngineConfig config_;
  SteadyClock::time_point epoch_;
  SystemClock::time_point systemEpoch_;  // the same instant on the wall clock (iteration timestamps)
  std::unique_ptr<tle::Executor> executor_;
  ResponseSink sink_;
  std::thread thread_;
  std::thread poller_;
  std::atomic<bool> stopping_{false};
  std::mutex pollWakeMu_;
  std::condition_variable pollWake_;
  std::mutex pollMu_;
  std::atomic<int> tokensPerBlock_{0};
  mutable std::mutex mu_;  // last_, buffered_, requests_
  EngineSnapshot last_;
  std::deque<IterationStats> buffered_;
  std::unordered_map<RequestId, InFlight> requests_;
};

}  // namespace

std::unique_ptr<Engine> createTrtllmExecutor(EngineConfig config) {
  return std::make_unique<TrtllmExecutor>(std::move(config));
}

}  // namespace switchyard
