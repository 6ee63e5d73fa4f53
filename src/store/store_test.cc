#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <thread>

namespace brix::store {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("brix-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<ObjectStore> Open() {
    Result<std::unique_ptr<ObjectStore>> s = OpenSqliteStore(dir_ / "brix.db", {.events_kept = 20});
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }

  static std::string Deployment(std::string name, int replicas, std::string extra_meta = "") {
    return R"({"apiVersion":"brix.dev/v1alpha1","kind":"ModelDeployment","metadata":{"name":")" +
           name + "\"" + extra_meta + R"(},"spec":{"replicas":)" + std::to_string(replicas) + "}}";
  }
  static ObjectKey Key(std::string name) { return {"ModelDeployment", "default", std::move(name)}; }

  std::filesystem::path dir_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(StoreTest, CreateFillsTheMetadataTheStoreOwns) {
  Result<StoredObject> made = store_->Create(Deployment("llama", 4));
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(made->key, Key("llama"));
  EXPECT_EQ(made->resource_version, 1u);
  const json::object& meta = made->object.at("metadata").as_object();
  EXPECT_EQ(meta.at("resourceVersion").as_string(), "1");
  EXPECT_EQ(meta.at("namespace").as_string(), "default");
  EXPECT_EQ(meta.at("generation").as_int64(), 1);
  EXPECT_EQ(meta.at("uid").as_string().size(), 36u);
  EXPECT_THAT(std::string(meta.at("creationTimestamp").as_string()), ::testing::EndsWith("Z"));
  EXPECT_TRUE(made->object.at("status").as_object().empty());
  // Same key again: AlreadyExists; another name: the next version.
  Result<StoredObject> again = store_->Create(Deployment("llama", 2));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kAlreadyExists);
  Result<StoredObject> other = store_->Create(Deployment("qwen", 1));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->resource_version, 2u);
  EXPECT_EQ(*store_->CurrentVersion(), 2u);
}

TEST_F(StoreTest, NumbersReadBackExactlyAndOutOfRangeOnesAreRefused) {
  // Boost 1.81's own reader takes 458124.55122160283 (what it writes for that double) as the
  // double below it, and 1e999 as infinity, which it would write as `Infinity`: not JSON, so the
  // object could never be read again.
  const std::string spec = R"({"apiVersion":"brix.dev/v1alpha1","kind":"ModelDeployment",)"
                           R"("metadata":{"name":"m"},"spec":{"weight":458124.55122160283}})";
  ASSERT_TRUE(store_->Create(spec));
  store_ = Open();
  Result<StoredObject> got = store_->Get(Key("m"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->object.at("spec").at("weight").as_double(), 458124.55122160283);
  Result<StoredObject> huge = store_->Create(
      R"({"apiVersion":"brix.dev/v1alpha1","kind":"ModelDeployment","metadata":{"name":"h"},)"
      R"("spec":{"weight":1e999}})");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, Errc::kInvalidArgument);
  EXPECT_THAT(huge.error().message, HasSubstr("not JSON"));
}

TEST_F(StoreTest, UpdatesAreOptimisticAndGenerationCountsSpecChanges) {
  ASSERT_TRUE(store_->Create(Deployment("llama", 4)));
  // Status from the controller: no new generation.
  Result<StoredObject> status =
      store_->UpdateStatus(Key("llama"), 1, json::object{{"readyReplicas", 3}});
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->resource_version, 2u);
  EXPECT_EQ(status->object.at("metadata").at("generation").as_int64(), 1);
  // A user's update read at version 1 conflicts: the controller wrote in between.
  Result<StoredObject> stale = store_->Update(Deployment("llama", 8, R"(,"resourceVersion":"1")"));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Errc::kFailedPrecondition);
  EXPECT_THAT(stale.error().message, HasSubstr("conflict"));
  // Read again, retry: the spec changes, the status stays, generation moves on.
  Result<StoredObject> fresh =
      store_->Update(Deployment("llama", 8, R"(,"resourceVersion":"2","labels":{"team":"a"})"));
  ASSERT_TRUE(fresh) << fresh.error().message;
  EXPECT_EQ(fresh->object.at("spec").at("replicas").as_int64(), 8);
  EXPECT_EQ(fresh->object.at("status").at("readyReplicas").as_int64(), 3);
  EXPECT_EQ(fresh->object.at("metadata").at("generation").as_int64(), 2);
  EXPECT_EQ(fresh->object.at("metadata").at("labels").at("team").as_string(), "a");
  // Same spec again (no version: unconditional): no new generation.
  Result<StoredObject> same = store_->Update(Deployment("llama", 8));
  ASSERT_TRUE(same);
  EXPECT_EQ(same->object.at("metadata").at("generation").as_int64(), 2);
  EXPECT_FALSE(same->object.at("metadata").as_object().contains("labels"));
  // Unknown objects.
  EXPECT_EQ(store_->Update(Deployment("nope", 1)).error().code, Errc::kNotFound);
  EXPECT_EQ(store_->UpdateStatus(Key("nope"), 0, json::object()).error().code, Errc::kNotFound);
}

TEST_F(StoreTest, TwoWritersWithTheSameVersionOneWins) {
  ASSERT_TRUE(store_->Create(Deployment("llama", 1)));
  std::unique_ptr<ObjectStore> other = Open();  // a second process's connection
  std::atomic<int> won{0}, conflicted{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 8; ++i) {
    writers.emplace_back([&, i] {
      ObjectStore& s = i % 2 == 0 ? *store_ : *other;
      Result<StoredObject> r = s.Update(Deployment("llama", 10 + i, R"(,"resourceVersion":"1")"));
      if (r) {
        ++won;
      } else if (r.error().code == Errc::kFailedPrecondition) {
        ++conflicted;
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(conflicted.load(), 7);
  EXPECT_EQ(*store_->CurrentVersion(), 2u);
}

TEST_F(StoreTest, ListAndDelete) {
  ASSERT_TRUE(store_->Create(Deployment("b", 1)));
  ASSERT_TRUE(store_->Create(Deployment("a", 1)));
  ASSERT_TRUE(store_->Create(
      R"({"apiVersion":"brix.dev/v1alpha1","kind":"ModelDeployment","metadata":{"name":"a","namespace":"team-x"},"spec":{}})"));
  ASSERT_TRUE(store_->Create(
      R"({"apiVersion":"model.aibrix.ai/v1alpha1","kind":"ModelAdapter","metadata":{"name":"sql-lora"},"spec":{}})"));
  uint64_t version = 0;
  Result<std::vector<StoredObject>> all = store_->List("ModelDeployment", "", &version);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].key, Key("a"));
  EXPECT_EQ((*all)[1].key, Key("b"));
  EXPECT_EQ((*all)[2].key.ns, "team-x");
  EXPECT_EQ(version, 4u);
  EXPECT_EQ(store_->List("", "", nullptr)->size(), 4u);
  EXPECT_EQ(store_->List("ModelDeployment", "team-x", nullptr)->size(), 1u);
  // Delete with a stale version is refused; with none it goes.
  EXPECT_EQ(store_->Delete(Key("a"), 1).error().code, Errc::kFailedPrecondition);
  Result<StoredObject> gone = store_->Delete(Key("a"));
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->object.at("spec").at("replicas").as_int64(), 1);
  EXPECT_EQ(store_->Get(Key("a")).error().code, Errc::kNotFound);
  EXPECT_EQ(store_->Delete(Key("a")).error().code, Errc::kNotFound);
}

TEST_F(StoreTest, EventsReplayEveryChangeInOrder) {
  ASSERT_TRUE(store_->Create(Deployment("llama", 1)));
  ASSERT_TRUE(store_->Update(Deployment("llama", 2)));
  ASSERT_TRUE(store_->Delete(Key("llama")));
  Result<std::vector<WatchEvent>> events = store_->EventsSince(0);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].type, EventType::kAdded);
  EXPECT_EQ((*events)[1].type, EventType::kModified);
  EXPECT_EQ((*events)[1].object.object.at("spec").at("replicas").as_int64(), 2);
  EXPECT_EQ((*events)[2].type, EventType::kDeleted);
  EXPECT_EQ((*events)[2].resource_version, 3u);
  EXPECT_EQ(EventTypeName((*events)[2].type), "DELETED");
  EXPECT_EQ(store_->EventsSince(2)->size(), 1u);
  EXPECT_TRUE(store_->EventsSince(3)->empty());
  // A watcher is woken by a write on another thread.
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    (void)store_->Create(Deployment("later", 1));
  });
  EXPECT_TRUE(store_->WaitForChange(3, std::chrono::seconds(10)));
  writer.join();
  EXPECT_FALSE(store_->WaitForChange(4, std::chrono::milliseconds(50)));
}

TEST_F(StoreTest, OldEventsAreCompactedAndSaySo) {
  ASSERT_TRUE(store_->Create(Deployment("llama", 0)));
  for (uint64_t i = 1; i <= 25; ++i) {
    ASSERT_TRUE(store_->UpdateStatus(Key("llama"), 0, json::object{{"n", i}}));
  }
  Result<std::vector<WatchEvent>> old = store_->EventsSince(1);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, Errc::kFailedPrecondition);
  EXPECT_THAT(old.error().message, HasSubstr("too old resource version"));
  const uint64_t now = *store_->CurrentVersion();
  Result<std::vector<WatchEvent>> recent = store_->EventsSince(now - 10);
  ASSERT_TRUE(recent);
  EXPECT_EQ(recent->size(), 10u);
}

TEST_F(StoreTest, WritesSurviveAKilledProcess) {
  // A child writes and is killed with SIGKILL right after its call returned; everything it was
  // told is written is there when the file is opened again.
  store_.reset();
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipefd[0]);
    auto s = OpenSqliteStore(dir_ / "brix.db");
    for (int i = 0; i < 50; ++i) {
      if (!s || !(*s)->Create(Deployment("m" + std::to_string(i), i))) ::_exit(1);
      const char done = 1;
      if (::write(pipefd[1], &done, 1) != 1) ::_exit(1);
    }
    ::pause();
    ::_exit(0);
  }
  ::close(pipefd[1]);
  int acknowledged = 0;
  char c;
  while (acknowledged < 50 && ::read(pipefd[0], &c, 1) == 1) ++acknowledged;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(pipefd[0]);
  ASSERT_EQ(acknowledged, 50);
  store_ = Open();
  Result<std::vector<StoredObject>> all = store_->List("ModelDeployment", "default", nullptr);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 50u);
  EXPECT_EQ(*store_->CurrentVersion(), 50u);
}

TEST(EnvelopeTest, BadObjectsNameTheField) {
  struct Case {
    const char* json;
    const char* want;
  } cases[] = {
      {R"({"kind":"X","metadata":{"name":"a"}})", "apiVersion: required"},
      {R"({"apiVersion":"v1","metadata":{"name":"a"}})", "kind: required"},
      {R"({"apiVersion":"v1","kind":"lower","metadata":{"name":"a"}})", "kind: must be"},
      {R"({"apiVersion":"v1","kind":"X"})", "metadata: required"},
      {R"({"apiVersion":"v1","kind":"X","metadata":{}})", "metadata.name: required"},
      {R"({"apiVersion":"v1","kind":"X","metadata":{"name":"Big"}})", "metadata.name: must be"},
      {R"({"apiVersion":"v1","kind":"X","metadata":{"name":"a-"}})", "metadata.name: must be"},
      {R"({"apiVersion":"v1","kind":"X","metadata":{"name":"a","namespace":"a.b"}})",
       "metadata.namespace"},
      {R"({"apiVersion":"v1","kind":"X","metadata":{"name":"a","labels":{"k":1}}})",
       "metadata.labels.k: must be a string"},
      {R"({"apiVersion":"v1","kind":"X","metadata":{"name":"a","owner":"me"}})",
       "metadata.owner: unknown field"},
      {R"({"apiVersion":"v1","kind":"X","metadata":{"name":"a","resourceVersion":"x"}})",
       "metadata.resourceVersion"},
      {R"({"apiVersion":"v1","kind":"X","metadata":{"name":"a"},"spec":[]})", "spec: must be"},
      {R"({"apiVersion":"v1","kind":"X","metadata":{"name":"a"},"extra":1})",
       "extra: unknown field"},
  };
  for (const Case& c : cases) {
    boost::system::error_code ec;
    json::value v = json::parse(c.json, ec);
    ASSERT_FALSE(ec) << c.json;
    Result<ObjectKey> key = ValidateEnvelope(v.as_object());
    ASSERT_FALSE(key) << c.json;
    EXPECT_EQ(key.error().code, Errc::kInvalidArgument);
    EXPECT_THAT(key.error().message, HasSubstr(c.want)) << c.json;
  }
  json::value ok = json::parse(
      R"({"apiVersion":"v1","kind":"X","metadata":{"name":"a.b-c","namespace":"ns-1"}})");
  Result<ObjectKey> key = ValidateEnvelope(ok.as_object());
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->ns, "ns-1");
}

}  // namespace
}  // namespace brix::store
