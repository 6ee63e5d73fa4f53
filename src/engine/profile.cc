#include "engine/profile.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "base/check.h"

namespace brix::engine {
namespace {

namespace json = boost::json;

// Assigns the value of a Result expression to `lhs`, or returns its error.
#define BRIX_ENGINE_CONCAT_(a, b) a##b
#define BRIX_ENGINE_CONCAT(a, b) BRIX_ENGINE_CONCAT_(a, b)
#define BRIX_ENGINE_ASSIGN_OR_RETURN(lhs, expr)           \
  auto&& BRIX_ENGINE_CONCAT(result_, __LINE__) = (expr);  \
  if (!BRIX_ENGINE_CONCAT(result_, __LINE__)) {           \
    return BRIX_ENGINE_CONCAT(result_, __LINE__).error(); \
  }                                                       \
  lhs = std::move(*BRIX_ENGINE_CONCAT(result_, __LINE__))

Result<json::value> ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value value = json::parse(text.str(), ec);
  if (ec) return InvalidArgument(path.string() + ": " + ec.message());
  return value;
}

// Reads a number member (integer or floating point) of `object`.
Result<double> Number(const json::object& object, std::string_view key, const std::string& where) {
  const json::value* v = object.if_contains(key);
  if (v == nullptr) return InvalidArgument(where + ": missing \"" + std::string(key) + "\"");
  boost::system::error_code ec;
  double d = v->to_number<double>(ec);
  if (ec || !std::isfinite(d)) {
    return InvalidArgument(where + ": \"" + std::string(key) + "\" is not a number");
  }
  return d;
}

// Reads the array `key` of objects into points, taking `x_key` (and `c_key` when not empty) as
// coordinates. Points must have positive times and non-negative coordinates.
Result<std::vector<CalibrationPoint>> Points(const json::object& doc, std::string_view key,
                                             std::string_view x_key, std::string_view c_key,
                                             const std::string& file) {
  const json::value* v = doc.if_contains(key);
  if (v == nullptr || !v->is_array() || v->as_array().empty()) {
    return InvalidArgument(file + ": \"" + std::string(key) + "\" must be a non-empty array");
  }
  std::vector<CalibrationPoint> points;
  for (size_t i = 0; i < v->as_array().size(); ++i) {
    const json::value& item = v->as_array()[i];
    std::string where = file + ": " + std::string(key) + "[" + std::to_string(i) + "]";
    if (!item.is_object()) return InvalidArgument(where + " is not an object");
    CalibrationPoint p;
    BRIX_ENGINE_ASSIGN_OR_RETURN(double x, Number(item.as_object(), x_key, where));
    p.tokens = static_cast<int64_t>(x);
    if (!c_key.empty()) {
      BRIX_ENGINE_ASSIGN_OR_RETURN(double c, Number(item.as_object(), c_key, where));
      p.context = static_cast<int64_t>(c);
    }
    BRIX_ENGINE_ASSIGN_OR_RETURN(p.ms, Number(item.as_object(), "ms", where));
    if (p.tokens < 1 || p.context < 0 || p.ms <= 0) {
      return InvalidArgument(where + ": coordinates or time out of range");
    }
    points.push_back(p);
  }
  return points;
}

Result<int64_t> Integer(const json::object& object, std::string_view key,
                        const std::string& where) {
  BRIX_ENGINE_ASSIGN_OR_RETURN(double d, Number(object, key, where));
  if (d < 0 || d != std::floor(d)) {
    return InvalidArgument(where + ": \"" + std::string(key) + "\" must be a whole number >= 0");
  }
  return static_cast<int64_t>(d);
}

// Sorted, strictly increasing x; duplicate x keep the last value. Then made non-decreasing in y
// (a running maximum): measurement noise of a few tenths of a percent (e.g. qwen linear(8) >
// linear(16)) must not make a bigger step cheaper.
void Normalize(std::vector<double>& x, std::vector<double>& y) {
  std::vector<size_t> order(x.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> nx, ny;
  for (size_t i : order) {
    if (!nx.empty() && nx.back() == x[i]) {
      ny.back() = y[i];
    } else {
      nx.push_back(x[i]);
      ny.push_back(y[i]);
    }
  }
  for (size_t i = 1; i < ny.size(); ++i) ny[i] = std::max(ny[i], ny[i - 1]);
  x = std::move(nx);
  y = std::move(ny);
}

// Index i with xs[i] <= v < xs[i+1], clamped to [0, size-2]. xs has at least 2 entries.
size_t Segment(const std::vector<double>& xs, double v) {
  auto it = std::upper_bound(xs.begin(), xs.end(), v);
  size_t i = it == xs.begin() ? 0 : static_cast<size_t>(it - xs.begin()) - 1;
  return std::min(i, xs.size() - 2);
}

}  // namespace

Result<Profile> LoadProfile(const std::filesystem::path& data_dir, std::string_view name) {
  size_t slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size() ||
      name.find('/', slash + 1) != std::string_view::npos || name.find("..") != name.npos) {
    return InvalidArgument("profile name must be <gpu>/<model>, got \"" + std::string(name) + "\"");
  }
  Profile p;
  p.name = std::string(name);
  p.gpu = std::string(name.substr(0, slash));
  p.model = std::string(name.substr(slash + 1));

  std::filesystem::path whole_path = data_dir / p.gpu / (p.model + ".json");
  std::filesystem::path ops_path = data_dir / p.gpu / (p.model + "-ops.json");
  if (!std::filesystem::exists(whole_path) || !std::filesystem::exists(ops_path)) {
    return NotFound("no profile \"" + p.name + "\" under " + data_dir.string());
  }
  BRIX_ENGINE_ASSIGN_OR_RETURN(json::value gpus_doc, ReadJson(data_dir / "gpus.json"));
  BRIX_ENGINE_ASSIGN_OR_RETURN(json::value whole_doc, ReadJson(whole_path));
  BRIX_ENGINE_ASSIGN_OR_RETURN(json::value ops_doc, ReadJson(ops_path));
  if (!gpus_doc.is_object() || !whole_doc.is_object() || !ops_doc.is_object()) {
    return InvalidArgument("profile files of " + p.name + " must hold JSON objects");
  }

  const std::string gpus_file = (data_dir / "gpus.json").string();
  const json::value* gpu = nullptr;
  const json::value* model = nullptr;
  if (const json::value* g = gpus_doc.as_object().if_contains("gpus"); g && g->is_object()) {
    gpu = g->as_object().if_contains(p.gpu);
  }
  if (const json::value* m = gpus_doc.as_object().if_contains("models"); m && m->is_object()) {
    model = m->as_object().if_contains(p.model);
  }
  if (gpu == nullptr || !gpu->is_object()) {
    return NotFound(gpus_file + ": no entry gpus." + p.gpu);
  }
  if (model == nullptr || !model->is_object()) {
    return NotFound(gpus_file + ": no entry models." + p.model);
  }
  BRIX_ENGINE_ASSIGN_OR_RETURN(p.gpu_memory_bytes,
                               Integer(gpu->as_object(), "memory_bytes", gpus_file));
  if (const json::value* d = gpu->as_object().if_contains("device"); d && d->is_string()) {
    p.device = std::string(d->as_string());
  }
  BRIX_ENGINE_ASSIGN_OR_RETURN(int64_t max_len,
                               Integer(model->as_object(), "max_model_len", gpus_file));
  p.max_model_len = static_cast<int32_t>(std::min<int64_t>(max_len, 1 << 30));

  const json::object& whole = whole_doc.as_object();
  const std::string whole_file = whole_path.string();
  BRIX_ENGINE_ASSIGN_OR_RETURN(p.weight_bytes, Integer(whole, "weight_bytes", whole_file));
  BRIX_ENGINE_ASSIGN_OR_RETURN(p.kv_bytes_per_token,
                               Integer(whole, "kv_bytes_per_token", whole_file));
  if (p.kv_bytes_per_token <= 0) return InvalidArgument(whole_file + ": kv_bytes_per_token is 0");
  const json::value* config = whole.if_contains("config");
  if (config == nullptr || !config->is_object()) {
    return InvalidArgument(whole_file + ": missing \"config\"");
  }
  const json::object& c = config->as_object();
  std::pair<std::string_view, int32_t*> dims[] = {
      {"layers", &p.shape.layers}, {"d", &p.shape.hidden},    {"heads", &p.shape.heads},
      {"kv", &p.shape.kv_heads},   {"hd", &p.shape.head_dim}, {"ffn", &p.shape.intermediate},
      {"vocab", &p.shape.vocab}};
  for (auto& [key, field] : dims) {
    BRIX_ENGINE_ASSIGN_OR_RETURN(int64_t v, Integer(c, key, whole_file + ": config"));
    *field = static_cast<int32_t>(v);
  }
  BRIX_ENGINE_ASSIGN_OR_RETURN(p.prefill, Points(whole, "prefill", "tokens", "", whole_file));
  BRIX_ENGINE_ASSIGN_OR_RETURN(
      p.prefill_cached, Points(whole, "prefill_cached", "new_tokens", "cached_tokens", whole_file));
  BRIX_ENGINE_ASSIGN_OR_RETURN(p.decode, Points(whole, "decode", "batch", "context", whole_file));
  BRIX_ENGINE_ASSIGN_OR_RETURN(
      p.linear, Points(ops_doc.as_object(), "linear", "tokens", "", ops_path.string()));
  if (p.prefill.size() < 2 || p.linear.size() < 2) {
    return InvalidArgument(p.name + ": prefill and linear need at least two points each");
  }
  return p;
}

std::vector<std::string> ListProfiles(const std::filesystem::path& data_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& gpu : std::filesystem::directory_iterator(data_dir, ec)) {
    if (!gpu.is_directory()) continue;
    for (const auto& file : std::filesystem::directory_iterator(gpu.path(), ec)) {
      std::string f = file.path().filename().string();
      constexpr std::string_view kOps = "-ops.json";
      if (f.size() > kOps.size() && f.ends_with(kOps)) {
        std::string model = f.substr(0, f.size() - kOps.size());
        if (std::filesystem::exists(gpu.path() / (model + ".json"))) {
          names.push_back(gpu.path().filename().string() + "/" + model);
        }
      }
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

int64_t EstimateActivationReserve(const Profile& profile, int32_t max_num_batched_tokens,
                                  int32_t max_num_seqs) {
  constexpr int64_t kFixed = int64_t{1} << 30;
  // Per token in flight: the SwiGLU gate+up output (2 x ffn) and about four hidden-sized buffers
  // (residual, normed input, attention output, q/k/v), bf16.
  const int64_t per_token =
      (2 * int64_t{profile.shape.intermediate} + 4 * int64_t{profile.shape.hidden}) * 2;
  const int64_t logits = int64_t{max_num_seqs} * profile.shape.vocab * 4;
  return kFixed + int64_t{max_num_batched_tokens} * per_token + logits;
}

int64_t NumGpuBlocks(const Profile& profile, double gpu_memory_utilization,
                     int64_t activation_reserve_bytes, int32_t block_size) {
  const double available = static_cast<double>(profile.gpu_memory_bytes) * gpu_memory_utilization -
                           static_cast<double>(profile.weight_bytes) -
                           static_cast<double>(activation_reserve_bytes);
  const double per_block = static_cast<double>(profile.kv_bytes_per_token) * block_size;
  if (available <= 0 || per_block <= 0) return 0;
  return static_cast<int64_t>(std::floor(available / per_block));
}

// ---------------------------------------------------------------------------------------------
// StepTimeModel

double StepTimeModel::Curve::At(double v) const {
  if (x.size() == 1) return y[0];
  if (v <= x.front()) return y.front();
  size_t i = Segment(x, v);
  double t = (v - x[i]) / (x[i + 1] - x[i]);
  return y[i] + t * (y[i + 1] - y[i]);
}

StepTimeModel::StepTimeModel(const Profile& profile) {
  for (const CalibrationPoint& p : profile.linear) {
    linear_.x.push_back(static_cast<double>(p.tokens));
    linear_.y.push_back(p.ms);
  }
  Normalize(linear_.x, linear_.y);
  for (const CalibrationPoint& p : profile.prefill) {
    prefill_.x.push_back(static_cast<double>(p.tokens));
    prefill_.y.push_back(p.ms);
  }
  Normalize(prefill_.x, prefill_.y);
  BRIX_CHECK(linear_.x.size() >= 2 && prefill_.x.size() >= 2) << profile.name;
  prefill_residual_.x = prefill_.x;
  for (size_t i = 0; i < prefill_.x.size(); ++i) {
    prefill_residual_.y.push_back(std::max(0.0, prefill_.y[i] - linear_.At(prefill_.x[i])));
  }

  // Cached-prefix extra on its grid; c = 0 is the zero row.
  extra_c_.push_back(0);
  for (const CalibrationPoint& p : profile.prefill_cached) {
    extra_n_.push_back(static_cast<double>(p.tokens));
    extra_c_.push_back(static_cast<double>(p.context));
  }
  for (auto* axis : {&extra_n_, &extra_c_}) {
    std::sort(axis->begin(), axis->end());
    axis->erase(std::unique(axis->begin(), axis->end()), axis->end());
  }
  extra_.assign(extra_n_.size() * extra_c_.size(), -1.0);
  for (size_t j = 0; j < extra_n_.size(); ++j) extra_[j] = 0;  // c = 0
  for (const CalibrationPoint& p : profile.prefill_cached) {
    size_t j = std::lower_bound(extra_n_.begin(), extra_n_.end(), p.tokens) - extra_n_.begin();
    size_t k = std::lower_bound(extra_c_.begin(), extra_c_.end(), p.context) - extra_c_.begin();
    extra_[k * extra_n_.size() + j] =
        std::max(0.0, p.ms - WholePrefill(static_cast<double>(p.tokens)));
  }
  // A grid cell that was not measured takes its neighbour's value along c (the tables in
  // data/profiles are complete grids; this only keeps a sparse file usable). Then the extra is
  // made non-decreasing in both n and c.
  for (size_t k = 1; k < extra_c_.size(); ++k) {
    for (size_t j = 0; j < extra_n_.size(); ++j) {
      double& e = extra_[k * extra_n_.size() + j];
      if (e < 0) e = extra_[(k - 1) * extra_n_.size() + j];
      e = std::max(e, extra_[(k - 1) * extra_n_.size() + j]);
      if (j > 0) e = std::max(e, extra_[k * extra_n_.size() + j - 1]);
    }
  }

  // Decode residual rows, one per measured context.
  for (const CalibrationPoint& p : profile.decode)
    decode_c_.push_back(static_cast<double>(p.context));
  std::sort(decode_c_.begin(), decode_c_.end());
  decode_c_.erase(std::unique(decode_c_.begin(), decode_c_.end()), decode_c_.end());
  decode_rows_.resize(decode_c_.size());
  for (const CalibrationPoint& p : profile.decode) {
    size_t k = std::lower_bound(decode_c_.begin(), decode_c_.end(), p.context) - decode_c_.begin();
    decode_rows_[k].x.push_back(static_cast<double>(p.tokens));
    decode_rows_[k].y.push_back(std::max(0.0, p.ms - linear_.At(static_cast<double>(p.tokens))));
  }
  for (size_t k = 0; k < decode_rows_.size(); ++k) {
    Normalize(decode_rows_[k].x, decode_rows_[k].y);
  }
}

double StepTimeModel::LinearMillis(int64_t tokens) const {
  if (tokens <= 0) return 0;
  double n = static_cast<double>(tokens);
  if (n <= linear_.x.back()) return linear_.At(n);
  // Compute bound: linear in tokens with the last segment's slope.
  size_t i = linear_.x.size() - 2;
  double slope = (linear_.y[i + 1] - linear_.y[i]) / (linear_.x[i + 1] - linear_.x[i]);
  return linear_.y.back() + slope * (n - linear_.x.back());
}

double StepTimeModel::WholePrefill(double n) const {
  if (n <= prefill_.x.back()) return prefill_.At(n);
  // Beyond the table: the power law of the last segment (causal attention makes it superlinear).
  size_t i = prefill_.x.size() - 2;
  double exponent =
      std::log(prefill_.y[i + 1] / prefill_.y[i]) / std::log(prefill_.x[i + 1] / prefill_.x[i]);
  return prefill_.y.back() * std::pow(n / prefill_.x.back(), std::max(1.0, exponent));
}

double StepTimeModel::CachedExtra(double n, double c) const {
  if (c <= 0 || extra_c_.size() < 2 || extra_n_.empty()) return 0;
  const double n_max = extra_n_.back();
  const double n_in = std::clamp(n, extra_n_.front(), n_max);
  // Linear in n inside the grid (clamped below its first column).
  auto row = [&](size_t k) {
    const double* r = &extra_[k * extra_n_.size()];
    if (extra_n_.size() == 1) return r[0];
    size_t j = Segment(extra_n_, n_in);
    double t = (n_in - extra_n_[j]) / (extra_n_[j + 1] - extra_n_[j]);
    return r[j] + std::clamp(t, 0.0, 1.0) * (r[j + 1] - r[j]);
  };
  // Linear in c, extrapolated beyond the last column with the last segment's slope (attention to
  // a prefix is linear in its length).
  size_t k = Segment(extra_c_, c);
  double t = (c - extra_c_[k]) / (extra_c_[k + 1] - extra_c_[k]);
  double extra = row(k) + std::max(0.0, t) * (row(k + 1) - row(k));
  if (n > n_max) {
    // Beyond the measured chunk sizes the only evidence is the whole-prefill table, whose causal
    // kernel is what vLLM's FlashAttention runs: grow the extra as that table implies,
    // F(c + n) - F(c) - F(n), from its value at the last measured n. (The ops file's attn_prefill
    // over a cached prefix uses a masked dense kernel that is 4x slower than its own no-prefix
    // case and would make a chunked 16k prefill 30% slower than the measured unchunked one.)
    auto flash = [&](double nn) {
      return WholePrefill(c + nn) - WholePrefill(c) - WholePrefill(nn);
    };
    extra += std::max(0.0, flash(n) - flash(n_max));
  }
  return extra;
}

double StepTimeModel::PrefillAttentionMillis(int64_t new_tokens, int64_t cached_tokens) const {
  if (new_tokens <= 0) return 0;
  double n = static_cast<double>(new_tokens);
  double residual =
      n <= prefill_residual_.x.back()
          ? prefill_residual_.At(n)
          : std::max(prefill_residual_.y.back(), WholePrefill(n) - LinearMillis(new_tokens));
  return residual + CachedExtra(n, static_cast<double>(cached_tokens));
}

double StepTimeModel::DecodeAttentionMillis(int64_t batch, double mean_context) const {
  if (batch <= 0 || decode_rows_.empty()) return 0;
  const double b = static_cast<double>(batch);
  // A row beyond its largest measured batch grows in proportion to the batch: decode attention
  // reads every sequence's KV once.
  auto row = [&](size_t k) {
    const Curve& r = decode_rows_[k];
    if (b <= r.x.back()) return r.At(b);
    return r.y.back() * b / r.x.back();
  };
  if (decode_rows_.size() == 1) return row(0);
  double c = std::max(mean_context, decode_c_.front());
  size_t k = Segment(decode_c_, c);
  double t = (c - decode_c_[k]) / (decode_c_[k + 1] - decode_c_[k]);
  return std::max(0.0, row(k) + t * (row(k + 1) - row(k)));
}

double StepTimeModel::StepMillis(const StepShape& shape) const {
  int64_t tokens = shape.num_decodes;
  double ms = 0;
  for (const PrefillChunk& chunk : shape.prefills) {
    tokens += chunk.new_tokens;
    ms += PrefillAttentionMillis(chunk.new_tokens, chunk.cached_tokens);
  }
  if (tokens == 0) return 0;
  ms += LinearMillis(tokens);
  if (shape.num_decodes > 0) {
    ms += DecodeAttentionMillis(shape.num_decodes,
                                static_cast<double>(shape.decode_context_sum) / shape.num_decodes);
  }
  return ms;
}

Duration StepTimeModel::StepTime(const StepShape& shape) const {
  return Duration(static_cast<Duration::rep>(std::llround(StepMillis(shape) * 1e6)));
}

}  // namespace brix::engine
