#include "engine_model.h"

#include <stdexcept>

namespace switchyard {

EngineModel::EngineModel(EngineConfig config)
    : config_(std::move(config)),
      scheduler_(config_, [this](KvCacheEvent&& e) { onKvEvent(std::move(e)); }),
      epoch_(Clock::now()) {
  if (!(config_.timeScale > 0)) throw std::invalid_argument("timeScale must be positive");
}

EngineModel::~EngineModel() { stop(); }

double EngineModel::nowLocked() const {
  if (config_.manualClock) return manualNowMs_;
  const std::chrono::duration<double, std::milli> real = Clock::now() - epoch_;
  return real.count() * config_.timeScale;
}

double EngineModel::nowMs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nowLocked();
}

void EngineModel::onKvEvent(KvCacheEvent&& event) {
  // Called with mu_ held (from inside the scheduler).
  if (config_.kvEventBufferSize == 0) return;
  event.eventId = nextEventId_++;
  kvEvents_.push_back(std::move(event));
  while (kvEvents_.size() > config_.kvEventBufferSize) kvEvents_.pop_front();
}

RequestId EngineModel::enqueue(Request request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) throw std::runtime_error("the engine is shut down");
  const RequestId id = scheduler_.add(std::move(request), nowLocked());
  wake_.notify_one();
  return id;
}

bool EngineModel::cancel(RequestId id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<Response> final = scheduler_.cancel(id, nowLocked());
  if (!final) return false;
  // Delivered by the engine thread (or the next step()), never from the caller's thread: the
  // caller may be the JS thread, which must not block on the response queue it drains.
  outbox_.push_back(std::move(*final));
  wake_.notify_one();
  return true;
}

void EngineModel::recordStats(const StepPlan& plan, double startMs, double durationMs, int completed) {
  ++iterations_;
  if (config_.iterStatsBufferSize == 0) return;
  const KvCache& kv = scheduler_.kv();
  const SchedulerCounters& c = scheduler_.counters();
  IterationStats s;
  s.iter = iterations_ - 1;
  s.iterLatencyMs = durationMs;
  s.timestampMs = startMs + durationMs;
  s.numActiveRequests = scheduler_.running();
  s.numQueuedRequests = scheduler_.waiting();
  s.numCompletedRequests = completed;
  s.maxNumActiveRequests = config_.profile.maxBatchSize;
  s.kv.maxNumBlocks = kv.numBlocks();
  s.kv.freeNumBlocks = kv.freeBlocks();
  s.kv.usedNumBlocks = kv.usedBlocks();
  s.kv.tokensPerBlock = kv.blockSize();
  s.kv.allocTotalBlocks = kv.allocTotal();
  s.kv.allocNewBlocks = kv.allocNew();
  s.kv.reusedBlocks = c.reusedBlocks;
  s.kv.missedBlocks = c.missedBlocks;
  const int64_t lookups = c.reusedBlocks + c.missedBlocks;
  s.kv.cacheHitRate = lookups > 0 ? static_cast<double>(c.reusedBlocks) / static_cast<double>(lookups) : 0.0;
  s.numScheduledRequests = static_cast<int>(plan.chunks.size());
  s.numContextRequests = plan.contextSeqs;
  s.numGenRequests = plan.decodeSeqs;
  s.numPausedRequests = 0;
  s.numCtxTokens = plan.prefillTokens;
  iterStats_.push_back(s);
  while (iterStats_.size() > config_.iterStatsBufferSize) iterStats_.pop_front();
}

void EngineModel::runIteration(std::unique_lock<std::mutex>& lock, std::vector<Response>& out) {
  double start = nowLocked();
  // A busy GPU runs steps back to back. The thread wakes a little after each deadline; starting
  // the next step at the wake-up time would add that latency to every step (several percent of
  // throughput at high time scales). So a step that follows a busy one starts where it ended,
  // unless the thread fell far behind (a blocked response queue), where model time catches up.
  if (!config_.manualClock && continuing_) {
    const double maxLagMs = 20.0 * config_.timeScale;
    if (start - lastEndMs_ < maxLagMs) start = lastEndMs_;
  }
  StepPlan plan = scheduler_.plan(start);
  continuing_ = false;
  if (plan.empty()) return;
  const double duration = scheduler_.stepTimeMs(plan);
  double end = start + duration;
  if (config_.manualClock) {
    manualNowMs_ = end;
  } else {
    const auto deadline = epoch_ + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double, std::milli>(end / config_.timeScale));
    wake_.wait_until(lock, deadline, [this] { return stopping_; });
    if (stopping_) return;
  }
  const int completed = scheduler_.apply(plan, end, out);
  recordStats(plan, start, duration, completed);
  lastEndMs_ = end;
  continuing_ = scheduler_.running() > 0;
}

std::vector<Response> EngineModel::step() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!config_.manualClock) throw std::logic_error("step() needs a manual clock");
  std::vector<Response> out = std::move(outbox_);
  outbox_.clear();
  runIteration(lock, out);
  return out;
}

void EngineModel::advanceTo(double ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!config_.manualClock) throw std::logic_error("advanceTo() needs a manual clock");
  if (ms > manualNowMs_) manualNowMs_ = ms;
}

void EngineModel::start(ResponseSink sink) {
  std::lock_guard<std::mutex> lock(mu_);
  if (config_.manualClock) throw std::logic_error("a manual-clock engine has no thread to start");
  if (thread_.joinable() || stopping_) throw std::logic_error("the engine was already started");
  sink_ = std::move(sink);
  thread_ = std::thread([this] { loop(); });
}

void EngineModel::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait(lock, [this] {
      return stopping_ || !outbox_.empty() || scheduler_.running() > 0 || scheduler_.waiting() > 0;
    });
    if (stopping_) break;
    std::vector<Response> out = std::move(outbox_);
    outbox_.clear();
    runIteration(lock, out);
    if (out.empty()) {
      // Waiting requests that cannot be admitted while nothing runs would spin: nothing frees
      // blocks in that state, and add() rejects requests larger than the whole cache.
      if (scheduler_.running() == 0 && outbox_.empty()) wake_.wait(lock, [this] { return stopping_ || !outbox_.empty(); });
      continue;
    }
    lock.unlock();
    sink_(std::move(out));  // may block on a full response queue; the lock is not held
    lock.lock();
  }
}

void EngineModel::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

EngineSnapshot EngineModel::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  const KvCache& kv = scheduler_.kv();
  const SchedulerCounters& c = scheduler_.counters();
  EngineSnapshot s;
  s.nowMs = nowLocked();
  s.running = scheduler_.running();
  s.waiting = scheduler_.waiting();
  s.usedBlocks = kv.usedBlocks();
  s.cachedBlocks = kv.cachedBlocks();
  s.numBlocks = kv.numBlocks();
  s.blockSize = kv.blockSize();
  s.kvUsage = kv.numBlocks() > 0 ? static_cast<double>(kv.usedBlocks()) / kv.numBlocks() : 0.0;
  s.prefixQueryTokens = c.prefixQueryTokens;
  s.prefixHitTokens = c.prefixHitTokens;
  s.promptTokens = c.promptTokens;
  s.generationTokens = c.generationTokens;
  s.preemptions = c.preemptions;
  s.iterations = static_cast<int64_t>(iterations_);
  s.completed = c.completed;
  return s;
}

std::vector<IterationStats> EngineModel::drainIterationStats() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<IterationStats> out(iterStats_.begin(), iterStats_.end());
  iterStats_.clear();
  return out;
}

std::vector<KvCacheEvent> EngineModel::drainKvEvents() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<KvCacheEvent> out(std::make_move_iterator(kvEvents_.begin()), std::make_move_iterator(kvEvents_.end()));
  kvEvents_.clear();
  return out;
}

}  // namespace switchyard
