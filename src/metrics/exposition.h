// Writer for the Prometheus text exposition format 0.0.4, the body of GET /metrics.
//
//   response.set(http::field::content_type, metrics::kContentType);
//   response.body() = metrics::RenderText(registry);
//
// Output is deterministic: families by name, series by label values, labels in the order the
// family declared them (`le` last on histogram buckets). Families without series are omitted.
// Pure functions; any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "metrics/registry.h"

namespace brix::metrics {

// The Content-Type of a RenderText() body.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Collects `registry` (running its callbacks on this thread) and renders it.
std::string RenderText(const Registry& registry);

// Appends the rendering of `families`, in the order given, to `out`.
void AppendText(std::span<const FamilySnapshot> families, std::string& out);

// Appends `value` as Prometheus writes sample values: "NaN", "+Inf", "-Inf"; whole numbers of
// magnitude below 1e15 as plain integers ("1234567", never "1.234567e+06"); anything else in the
// shortest form that parses back to the same double ("0.25", "1e-05", "1.5e+300").
void AppendValue(double value, std::string& out);
// AppendValue into a new string.
std::string FormatValue(double value);

}  // namespace brix::metrics
