// The engine model: a CPU model of an LLM inference engine behind the Engine abstraction.
//
// The iteration itself lives in Scheduler; this class owns the clock and the threads. With a real
// clock, one engine thread plans a step, sleeps for the step's modelled duration divided by the
// time scale, applies the step and hands the responses to the sink. With a manual clock nothing
// runs on its own: step() runs one iteration and advances model time by the step's duration.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "engine.h"
#include "scheduler.h"

namespace switchyard {

class EngineModel final : public Engine {
 public:
  explicit EngineModel(EngineConfig config);
  ~EngineModel() override;

  RequestId enqueue(Request request) override;
  bool cancel(RequestId id) override;
  std::vector<Response> step() override;
  void advanceTo(double ms) override;
  double nowMs() const override;
  EngineSnapshot snapshot() const override;
  std::vector<IterationStats> drainIterationStats() override;
  std::vector<KvCacheEvent> drainKvEvents() override;
  void start(ResponseSink sink) override;
  void stop() override;

 private:
  using Clock = std::chrono::steady_clock;
  double nowLocked() const;
  void loop();
  // Runs plan+apply for one iteration starting at `startMs`; returns responses. Lock held on
  // entry and exit; released while a real clock sleeps through the step.
  void runIteration(std::unique_lock<std::mutex>& lock, std::vector<Response>& out);
  void recordStats(const StepPlan& plan, double startMs, double durationMs, int completed);
  void onKvEvent(KvCacheEvent&& event);

  EngineConfig config_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  // Declared before scheduler_: its KV cache emits a "created" event from its constructor.
  std::deque<IterationStats> iterStats_;
  std::deque<KvCacheEvent> kvEvents_;
  uint64_t nextEventId_ = 0;
  Scheduler scheduler_;
  Clock::time_point epoch_;
  double manualNowMs_ = 0;
  double lastEndMs_ = 0;     // model time the previous step ended
  bool continuing_ = false;  // the previous step left requests running
  std::vector<Response> outbox_;  // final responses of cancellations, delivered by the loop
  uint64_t iterations_ = 0;
  ResponseSink sink_;
  std::thread thread_;
  bool stopping_ = false;
};

}  // namespace switchyard
