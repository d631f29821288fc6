#include "server/choice_requests.h"

#include <algorithm>
#include <string>

#include "fathom/core/error.h"

namespace fathom::server {

ChoiceRequests::ChoiceRequests(EngineLoop& loop, const std::vector<engine::GenerationRequest>& prompts, int64_t n)
    : loop_(loop), events_(std::make_shared<RequestEvents>()), n_(static_cast<size_t>(std::max<int64_t>(n, 1))) {
  try {
    for (const engine::GenerationRequest& generation : prompts) {
      for (size_t i = 0; i < n_; ++i) {
        engine::GenerationRequest choice = generation;
        if (choice.sampling.seed) *choice.sampling.seed += static_cast<uint64_t>(i);
        ids_.push_back(loop_.submit(std::move(choice), events_).id);
        finished_.push_back(false);
      }
    }
  } catch (...) {
    cancel_unfinished();  // a constructor that throws gets no destructor call
    throw;
  }
}

ChoiceRequests::~ChoiceRequests() { cancel_unfinished(); }

size_t ChoiceRequests::index_of(engine::RequestId id) const {
  const auto it = std::find(ids_.begin(), ids_.end(), id);
  if (it == ids_.end()) throw Error(ErrorCode::internal, "an event for request " + std::to_string(id) + ", not one of this response's");
  return static_cast<size_t>(it - ids_.begin());
}

bool ChoiceRequests::all_finished() const {
  return std::all_of(finished_.begin(), finished_.end(), [](bool f) { return f; });
}

void ChoiceRequests::cancel_unfinished() {
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (!finished_[i]) loop_.cancel(ids_[i]);
  }
}

}  // namespace fathom::server
