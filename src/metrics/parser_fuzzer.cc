// Fuzzes ParseText with arbitrary bytes, then walks whatever parsed through every lookup and
// checks the page's invariants. Seeds: fuzz_corpus/parser/.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "metrics/parser.h"

namespace {

using brix::metrics::HistogramData;
using brix::metrics::LabelPair;
using brix::metrics::ParsedFamily;
using brix::metrics::ParsedPage;
using brix::metrics::ParsedSample;
using brix::metrics::ParseLimits;

void Exercise(const ParsedPage& page) {
  size_t samples = 0;
  for (const ParsedFamily& family : page.families()) {
    samples += family.samples().size();
    // Family names are unique, so Find() returns this very family.
    BRIX_CHECK(page.Find(family.name()) == &family) << family.name();
    (void)family.Sum({});
    (void)family.Value({});
    std::optional<HistogramData> all = family.ReadHistogram({});
    if (all) {
      for (size_t i = 1; i < all->buckets.size(); ++i) {
        BRIX_CHECK(all->buckets[i - 1].upper_bound < all->buckets[i].upper_bound);
      }
      for (double q : {0.0, 0.5, 0.99, 1.0}) (void)all->Quantile(q);
    }
    for (const ParsedSample& sample : family.samples()) {
      BRIX_CHECK(sample.name.starts_with(family.name())) << sample.name << " in " << family.name();
      // Looking a sample up by its own labels finds a sample (maybe an earlier duplicate).
      if (sample.role == brix::metrics::SampleRole::kValue) {
        BRIX_CHECK(family.Value(sample.labels).has_value());
        BRIX_CHECK(family.Sum(sample.labels).has_value());
      }
      (void)family.ReadHistogram(sample.labels);
      for (const LabelPair& label : sample.labels) {
        BRIX_CHECK(sample.LabelValue(label.name).has_value());
      }
    }
  }
  BRIX_CHECK(samples == page.sample_count());
  BRIX_CHECK(page.errors().size() <= page.error_count());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto page = brix::metrics::ParseText(text)) Exercise(*page);
  // Tight limits take the limit paths too.
  const ParseLimits tight{.max_bytes = 4096,
                          .max_line_length = 256,
                          .max_samples = 16,
                          .max_label_pairs = 4,
                          .max_families = 8,
                          .max_errors = 2};
  if (auto page = brix::metrics::ParseText(text, tight)) Exercise(*page);
  return 0;
}
