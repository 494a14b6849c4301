// Bad input files: never recreated, never modified, always a clear error.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include "memory/memory.h"
#include "tests/memory/test_records.h"

namespace ak::memory {
namespace {

using testing::TempDir;

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Opens `path`, expects `code` with `needle` in the message, and the file byte-identical.
void expect_refused(const std::filesystem::path& path, StatusCode code, const std::string& needle) {
  const std::string before = read_bytes(path);
  auto store = Store::open(path);
  ASSERT_FALSE(store.is_ok()) << "opened " << path;
  EXPECT_EQ(store.status().code(), code) << store.status().message();
  EXPECT_NE(store.status().message().find(needle), std::string::npos) << store.status().message();
  EXPECT_NE(store.status().message().find(path.string()), std::string::npos) << "the message names the file";
  EXPECT_EQ(read_bytes(path), before) << "the file was modified";
}

void exec(const std::filesystem::path& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

// A memory with a few hundred records, closed (WAL checkpointed into the file).
std::filesystem::path make_memory(const TempDir& dir) {
  auto path = dir / "memory.db";
  auto store = Store::open(path);
  EXPECT_TRUE(store.is_ok()) << store.status().message();
  std::vector<Record> batch;
  for (int i = 0; i < 300; ++i)
    batch.push_back({testing::softmax_workload({{i + 1, 128}}), testing::kernel(std::string(500, 'a' + i % 26) +
                                                                                std::to_string(i)),
                     testing::passed(1.5)});
  EXPECT_TRUE(store.value()->record_batch(batch).is_ok());
  return path;
}

TEST(FileSafety, TextFileIsRefusedAndUntouched) {
  TempDir dir;
  auto path = dir / "notes.txt";
  write_bytes(path, "These are my notes, not a database.\n");
  expect_refused(path, StatusCode::kInvalidInput, "is not an SQLite database");
  EXPECT_FALSE(std::filesystem::exists(path.string() + "-wal"));
}

TEST(FileSafety, ShortFileIsRefusedAndUntouched) {
  TempDir dir;
  auto path = dir / "memory.db";
  write_bytes(path, std::string("SQLite format 3\0\x10\x00", 18));  // a header cut short
  expect_refused(path, StatusCode::kInvalidInput, "is not an SQLite database");
}

TEST(FileSafety, TruncatedMemoryIsRefused) {
  TempDir dir;
  auto path = make_memory(dir);
  auto bytes = read_bytes(path);
  write_bytes(path, bytes.substr(0, 60));
  expect_refused(path, StatusCode::kInvalidInput, "is not an SQLite database");
}

TEST(FileSafety, ForeignSqliteDatabaseIsRefusedAndUntouched) {
  TempDir dir;
  auto path = dir / "other.db";
  exec(path, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'x');");
  expect_refused(path, StatusCode::kInvalidInput, "not an autokernel memory");
}

TEST(FileSafety, OtherApplicationIdIsRefusedBeforeSqliteOpensIt) {
  TempDir dir;
  auto path = dir / "other.db";
  exec(path, "PRAGMA application_id = 1234; CREATE TABLE t (x);");
  expect_refused(path, StatusCode::kInvalidInput, "another application");
}

TEST(FileSafety, NewerSchemaIsRefusedWithAClearMessage) {
  TempDir dir;
  auto path = make_memory(dir);
  exec(path, "PRAGMA user_version = 99");
  expect_refused(path, StatusCode::kUnsupported, "newer than this autokernel supports");
  auto store = Store::open(path);
  EXPECT_EQ(store.status().exit_code(), 2);
}

TEST(FileSafety, CorruptedFirstPageIsRefusedAndUntouched) {
  TempDir dir;
  auto path = make_memory(dir);
  auto bytes = read_bytes(path);
  ASSERT_GT(bytes.size(), 8192u);
  // Keep the 100-byte header (so it still looks like ours), scramble the schema page.
  for (size_t i = 100; i < 4096; ++i) bytes[i] = static_cast<char>((i * 131) & 0xff);
  write_bytes(path, bytes);
  expect_refused(path, StatusCode::kInvalidInput, "corrupted");
}

TEST(FileSafety, CorruptedDataPagesGiveAClearErrorOnUseAndNoChange) {
  TempDir dir;
  auto path = make_memory(dir);
  auto bytes = read_bytes(path);
  // Scramble every page after the first: the schema reads fine, the tables do not.
  for (size_t i = 4096; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7 + 3) & 0xff);
  write_bytes(path, bytes);
  const std::string before = read_bytes(path);
  {
    auto store = Store::open(path);
    if (store.is_ok()) {
      Query query;
      query.op_type = "Softmax";
      query.dtype = "float16";
      query.shape = {{8, 128}};
      auto found = store.value()->search(query);
      ASSERT_FALSE(found.is_ok());
      EXPECT_EQ(found.status().code(), StatusCode::kInvalidInput);
      EXPECT_NE(found.status().message().find("corrupted"), std::string::npos) << found.status().message();
      auto recorded = store.value()->record({testing::softmax_workload({{9, 9}}), testing::kernel("y"),
                                             testing::passed(1.0)});
      EXPECT_FALSE(recorded.is_ok());
      EXPECT_FALSE(store.value()->check_integrity().is_ok());
    } else {
      EXPECT_NE(store.status().message().find("corrupted"), std::string::npos) << store.status().message();
    }
  }
  EXPECT_EQ(read_bytes(path), before) << "the corrupted file was modified";
}

TEST(FileSafety, DirectoryIsRefused) {
  TempDir dir;
  auto store = Store::open(dir.path());
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidInput);
}

TEST(FileSafety, EmptyFileBecomesAMemory) {
  // SQLite's own view: a zero-length file is an empty database (e.g. a create that was
  // killed before its first commit). Initializing it loses nothing.
  TempDir dir;
  auto path = dir / "memory.db";
  write_bytes(path, "");
  auto store = Store::open(path);
  ASSERT_TRUE(store.is_ok()) << store.status().message();
  EXPECT_TRUE(store.value()->check_integrity().is_ok());
}

}  // namespace
}  // namespace ak::memory
