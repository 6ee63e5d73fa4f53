#include "gateway/quota_backend.h"

#include <chrono>

namespace brix::gateway {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class LocalQuotaBackend final : public QuotaBackend {
 public:
  std::string_view name() const override { return "local"; }
  boost::asio::awaitable<Result<tenant::Admission>> Admit(const tenant::TenantSpec& spec,
                                                          std::string_view model,
                                                          uint64_t tokens) override {
    co_return quota_.Admit(spec, model, tokens, SteadyMs());
  }
  void Settle(tenant::Grant grant, uint64_t actual_tokens) override {
    quota_.Settle(grant, actual_tokens, SteadyMs());
  }

 private:
  tenant::LocalQuota quota_;
};

}  // namespace

std::unique_ptr<QuotaBackend> MakeLocalQuotaBackend() {
  return std::make_unique<LocalQuotaBackend>();
}

}  // namespace brix::gateway
