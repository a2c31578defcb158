// Helpers shared by the pure step functions (statemachine.cc, move_step.cc).
#pragma once

#include <algorithm>
#include <chrono>
#include <string>

#include "controllers/migrationpolicy/migrationpolicy.h"

namespace shardcast::migrationpolicy::step {

inline ActionRecord Enter(ActionRecord a, Phase phase, int64_t now, std::string message = {}) {
  if (a.phase != phase) {
    a.phase = phase;
    a.phase_started_at = now;
    a.attempts = 0;
  }
  if (a.started_at == 0) a.started_at = now;
  if (a.terminal()) a.finished_at = now;
  a.message = std::move(message);
  return a;
}

inline ActionRecord WithHook(ActionRecord a, HookStep s, HookState st, bool reverse = false) {
  a.hook = HookRecord{s, st, reverse};
  return a;
}

inline Step Wait(const ActionRecord& a, std::chrono::milliseconds after, std::string message = {}) {
  Step s;
  s.write = Write::kWait;
  s.next = a;
  if (!message.empty()) s.next.message = std::move(message);
  s.requeue = after;
  return s;
}

inline Step Go(Write w, ActionRecord next, std::string event = {}, std::string event_message = {},
               bool warning = false) {
  Step s;
  s.write = w;
  s.next = std::move(next);
  s.event = std::move(event);
  s.event_message = std::move(event_message);
  s.warning = warning;
  s.requeue = std::chrono::milliseconds(200);
  return s;
}

// A status-only step that records `next` (e.g. a hook intent) and re-runs soon.
inline Step Record(ActionRecord next, std::string message) {
  next.message = std::move(message);
  return Go(Write::kNone, std::move(next));
}

inline std::string RangeName(const ActionRecord& a) {
  return a.range ? "range " + std::to_string(*a.range) : std::string("range ?");
}

inline bool MarkedByUs(const ActionRecord& a, const RangeView& r) {
  return (r.state == "migrating" || r.state == "shadow") && r.source == a.source &&
         r.target == a.target;
}

inline std::chrono::milliseconds Remaining(int64_t since, int64_t length, int64_t now) {
  int64_t left = since + length - now;
  return std::chrono::milliseconds(std::clamp<int64_t>(left, 1, 5) * 1000);
}

}  // namespace shardcast::migrationpolicy::step

namespace shardcast::migrationpolicy {
// The Move state machine (move_step.cc).
Step MoveStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg);
}  // namespace shardcast::migrationpolicy
