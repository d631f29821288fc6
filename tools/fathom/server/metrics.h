// GET /metrics: the server's counters in the Prometheus text format (version 0.0.4), for
// Prometheus, Grafana and the like. Names follow Prometheus conventions (fathom_ prefix,
// _total for counters, _seconds for durations); every series carries the served model's id as
// model_name, as vLLM's do.
#pragma once

#include <string>

#include "server/engine_loop.h"

namespace fathom::server {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string prometheus_metrics(const EngineLoop& loop, const std::string& model_id);

}  // namespace fathom::server
