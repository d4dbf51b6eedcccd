// Engine responses as JS values: one object per response (manual-clock steps return an array of
// them), or a ResponseBatch that holds a real-clock step's responses natively and makes each one a
// JS object only when it is read. Used by addon.cc.
#pragma once

#include <napi.h>

#include <vector>

#include "engine.h"

namespace switchyard {

Napi::Value responseToJs(Napi::Env env, const Response& r);
Napi::Array responsesToJs(Napi::Env env, const std::vector<Response>& batch);

// Defines the ResponseBatch class for this environment (once, at module init; not exported to JS).
void registerResponseBatch(Napi::Env env);
// A ResponseBatch that owns `batch`.
Napi::Object makeResponseBatch(Napi::Env env, std::vector<Response>&& batch);

}  // namespace switchyard
