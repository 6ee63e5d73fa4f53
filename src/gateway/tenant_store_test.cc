#include "gateway/tenant_store.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace brix::gateway {
namespace {

class TenantStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("brix-tenants-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path db() const { return dir_ / "tenants.db"; }
  std::filesystem::path dir_;
};

tenant::TenantSpec Spec(std::string name, uint64_t rpm) {
  tenant::TenantSpec spec;
  spec.name = std::move(name);
  spec.limits.requests_per_minute = rpm;
  return spec;
}

TEST_F(TenantStoreTest, TenantsAndKeysSurviveReopening) {
  std::string key;
  std::string key_id;
  {
    auto store = TenantStore::Open(db());
    ASSERT_TRUE(store) << store.error().message;
    bool created = false;
    ASSERT_TRUE((*store)->PutTenant(Spec("acme", 60), &created));
    EXPECT_TRUE(created);
    ASSERT_TRUE((*store)->PutTenant(Spec("acme", 120), &created));
    EXPECT_FALSE(created);
    Result<NewKey> k = (*store)->CreateKey("acme");
    ASSERT_TRUE(k);
    key = k->key;
    key_id = k->record.id;
    EXPECT_EQ(key_id, tenant::KeyIdFromHash(tenant::HashApiKey(key)));
  }
  auto store = TenantStore::Open(db());
  ASSERT_TRUE(store);
  auto dir = (*store)->Load();
  ASSERT_TRUE(dir);
  const tenant::TenantSpec* who = (*dir)->ByKeyHash(tenant::HashApiKey(key));
  ASSERT_NE(who, nullptr);
  EXPECT_EQ(who->name, "acme");
  EXPECT_EQ(who->limits.requests_per_minute, 120u);
  Result<std::vector<KeyRecord>> keys = (*store)->ListKeys("acme");
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].id, key_id);
}

TEST_F(TenantStoreTest, RevokingAndDeletingRemoveAccess) {
  auto store = TenantStore::Open(db());
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->PutTenant(Spec("acme", 60)));
  Result<NewKey> a = (*store)->CreateKey("acme");
  Result<NewKey> b = (*store)->CreateKey("acme");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*store)->RevokeKey(a->record.id));
  EXPECT_EQ((*store)->RevokeKey(a->record.id).error().code, Errc::kNotFound);
  auto dir = (*store)->Load();
  EXPECT_EQ((*dir)->ByKeyHash(tenant::HashApiKey(a->key)), nullptr);
  EXPECT_NE((*dir)->ByKeyHash(tenant::HashApiKey(b->key)), nullptr);
  ASSERT_TRUE((*store)->DeleteTenant("acme"));
  dir = (*store)->Load();
  EXPECT_EQ((*dir)->ByKeyHash(tenant::HashApiKey(b->key)), nullptr);  // keys go with the tenant
  EXPECT_EQ((*store)->DeleteTenant("acme").error().code, Errc::kNotFound);
  EXPECT_EQ((*store)->CreateKey("nobody").error().code, Errc::kNotFound);
  EXPECT_EQ((*store)->ListKeys("nobody").error().code, Errc::kNotFound);
  EXPECT_EQ((*store)->PutTenant(Spec("Bad Name", 1)).error().code, Errc::kInvalidArgument);
}

TEST_F(TenantStoreTest, AnotherProcessesWritesAreNoticed) {
  auto mine = TenantStore::Open(db());
  auto theirs = TenantStore::Open(db());  // a second connection, as another gateway has
  ASSERT_TRUE(mine && theirs);
  (*mine)->Changed();
  EXPECT_FALSE((*mine)->Changed());
  ASSERT_TRUE((*theirs)->PutTenant(Spec("acme", 60)));
  EXPECT_TRUE((*mine)->Changed());
  EXPECT_FALSE((*mine)->Changed());
  EXPECT_NE((*(*mine)->Load())->ByName("acme"), nullptr);
  ASSERT_TRUE((*mine)->PutTenant(Spec("other", 1)));
  EXPECT_TRUE((*mine)->Changed());  // its own writes count too
}

TEST_F(TenantStoreTest, AnUnopenablePathIsAClearError) {
  auto store = TenantStore::Open(dir_ / "missing-dir" / "x.db");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("tenants database"), std::string::npos);
}

}  // namespace
}  // namespace brix::gateway
