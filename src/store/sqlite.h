// Thin RAII over SQLite (Debian libsqlite3) for the components that keep durable state: a
// connection opened the one way they all need, and prepared statements that finalize
// themselves.
//
//   Result<sqlite::Database> db = sqlite::Database::Open("state.db", kSchema);
//   sqlite::Statement s(db->get(), "SELECT body FROM objects WHERE name = ?1");
//   s.Bind(1, name);
//   while (s.Step() == SQLITE_ROW) use(s.Text(0));
//
// Open sets WAL (readers do not block the writer; several processes may share the file), a 5 s
// busy timeout and synchronous=FULL: a committed transaction survives a crash or power loss
// once the call returns. Not thread-safe: callers serialise use of one Database.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/error.h"

namespace brix::sqlite {

class Database {
 public:
  // Opens (creating if needed) `path` and runs `schema` (CREATE ... IF NOT EXISTS statements).
  // Errors name the file.
  static Result<Database> Open(const std::filesystem::path& path, const char* schema);
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  sqlite3* get() const { return db_; }
  // Runs statements without results (PRAGMA, BEGIN, COMMIT, DDL).
  Result<void> Exec(const char* sql);
  // Unavailable("<what>: <sqlite's last message>").
  Error SqlError(std::string_view what) const;
  // Rows changed by the last statement.
  int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// A prepared statement that finalizes itself. Parameters are 1-based, columns 0-based.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  void Bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

}  // namespace brix::sqlite
