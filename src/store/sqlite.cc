#include "store/sqlite.h"

#include <fmt/format.h>

#include <utility>

namespace brix::sqlite {

Result<Database> Database::Open(const std::filesystem::path& path, const char* schema) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return Unavailable(fmt::format("database {}: {}", path.string(), why));
  }
  Database db(raw);
  sqlite3_busy_timeout(raw, 5000);  // other processes' writes are short
  for (const char* sql :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON", schema}) {
    Result<void> ok = db.Exec(sql);
    if (!ok) {
      return Error{ok.error().code,
                   fmt::format("database {}: {}", path.string(), ok.error().message)};
    }
  }
  return db;
}

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Database::~Database() { sqlite3_close(db_); }

Result<void> Database::Exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    Error e = Unavailable(message != nullptr ? message : "sqlite error");
    sqlite3_free(message);
    return e;
  }
  return {};
}

Error Database::SqlError(std::string_view what) const {
  return Unavailable(fmt::format("{}: {}", what, sqlite3_errmsg(db_)));
}

}  // namespace brix::sqlite
