// Writers SIGKILLed at random moments, many times: afterwards the file passes
// PRAGMA integrity_check and foreign_key_check, and every record whose commit was
// acknowledged before the kill is there. Label "crash" (ctest -L crash).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "memory/memory.h"
#include "tests/memory/test_records.h"

namespace ak::memory {
namespace {

struct Writer {
  pid_t pid = -1;
  int stdout_fd = -1;
  std::filesystem::path stderr_path;
};

Writer spawn_writer(const std::filesystem::path& db, int writer, int seed, const std::filesystem::path& stderr_path) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (err >= 0) dup2(err, STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::string w = std::to_string(writer), s = std::to_string(seed);
    execl(AK_CRASH_WRITER, AK_CRASH_WRITER, db.c_str(), w.c_str(), s.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0], stderr_path};
}

std::string drain(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<size_t>(n));
  close(fd);
  return text;
}

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(CrashTest, KilledWritersLoseNoAcknowledgedRecord) {
  testing::TempDir dir;
  std::mt19937 rng(20261121);
  constexpr int kRounds = 150;
  constexpr int kWriters = 3;
  constexpr int kFreshFileEvery = 25;  // kills during creation and migration happen too
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(50);
  int64_t total_acked = 0;
  int rounds = 0;
  std::vector<std::pair<int64_t, std::string>> acked;  // of the current file
  std::filesystem::path db;
  for (int round = 0; round < kRounds && std::chrono::steady_clock::now() < deadline; ++round, ++rounds) {
    if (round % kFreshFileEvery == 0) {
      db = dir / ("memory" + std::to_string(round) + ".db");
      acked.clear();
    }
    std::vector<Writer> writers;
    for (int w = 0; w < kWriters; ++w)
      writers.push_back(spawn_writer(db, w, round, dir / ("writer" + std::to_string(w) + ".err")));
    // Kill each writer at its own random moment: 0 to 150 ms after the start (opening
    // and creating the file take the first few ms, so early kills hit those too).
    std::vector<int> delays_ms;
    for (int w = 0; w < kWriters; ++w) delays_ms.push_back(static_cast<int>(rng() % 150));
    std::vector<int> order(kWriters);
    for (int w = 0; w < kWriters; ++w) order[w] = w;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return delays_ms[a] < delays_ms[b]; });
    int slept = 0;
    for (int w : order) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delays_ms[w] - slept));
      slept = delays_ms[w];
      kill(writers[w].pid, SIGKILL);
    }
    for (auto& writer : writers) {
      std::string out = drain(writer.stdout_fd);
      int status = 0;
      ASSERT_EQ(waitpid(writer.pid, &status, 0), writer.pid);
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "round " << round << ": a writer stopped by itself: " << file_text(writer.stderr_path);
      std::istringstream lines(out);
      std::string word, tag;
      int64_t id = 0;
      while (lines >> word >> id >> tag) {
        ASSERT_EQ(word, "ACK");
        acked.emplace_back(id, tag);
        ++total_acked;
      }
    }

    // The file as a user finds it next: opens, passes SQLite's checks, has every ACK.
    if (!std::filesystem::exists(db)) continue;  // killed before SQLite created it
    {
      auto store = Store::open(db);
      ASSERT_TRUE(store.is_ok()) << "round " << round << ": " << store.status().message();
      Status integrity = store.value()->check_integrity();
      ASSERT_TRUE(integrity.is_ok()) << "round " << round << ": " << integrity.message();
    }
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* fk = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA foreign_key_check", -1, &fk, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(fk), SQLITE_DONE) << "round " << round << ": dangling reference";
    sqlite3_finalize(fk);
    sqlite3_stmt* find = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT failure_summary FROM evaluations WHERE id = ?1", -1, &find, nullptr),
              SQLITE_OK);
    for (const auto& [id, tag] : acked) {
      sqlite3_bind_int64(find, 1, id);
      ASSERT_EQ(sqlite3_step(find), SQLITE_ROW) << "round " << round << ": acknowledged E" << id << " lost";
      ASSERT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(find, 0))), tag)
          << "round " << round << ": E" << id << " is another record";
      sqlite3_reset(find);
    }
    sqlite3_finalize(find);
    sqlite3_close(raw);
  }
  std::printf("crash test: %d rounds, %d writers each, %lld acknowledged records checked\n", rounds, kWriters,
              static_cast<long long>(total_acked));
  EXPECT_GE(rounds, 50) << "too few rounds to mean much";
  EXPECT_GT(total_acked, 100) << "writers barely wrote before being killed";
}

}  // namespace
}  // namespace ak::memory
