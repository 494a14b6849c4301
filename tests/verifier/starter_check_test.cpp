// check_starter: a task's starter judged by the real judge (quick, in its worker process):
// a correct template passes, a skeleton is a non-failing RUNTIME_ERROR, a wrong template
// is a failure with the judge's verdict and reason.
#include "verifier/starter_check.h"

#include <gtest/gtest.h>

#include "tests/verifier/judge_fixture.h"

namespace ak::verifier {
namespace {

using namespace testing;
namespace fs = std::filesystem;

const fs::path kCandidates = fs::path(AK_SOURCE_DIR) / "tests/verifier/candidates/cpu";

/// The add_relu task with `candidate` as its starter, called `template_name`.
fs::path task_with_starter(const fs::path& root, const fs::path& candidate, const std::string& template_name) {
  const fs::path dir = root / "task";
  write_add_relu_task(dir, "cpu", "cpu");
  fs::copy_file(candidate, dir / "starter.cpp", fs::copy_options::overwrite_existing);
  auto task = kernels::read_task(dir);
  EXPECT_TRUE(task.is_ok()) << task.status().message();
  task->starter = {"starter.cpp", template_name};
  EXPECT_TRUE(kernels::write_task(dir, *task).is_ok());
  return dir;
}

StarterCheckOptions options(const fs::path& cache) {
  StarterCheckOptions o;
  o.judge.timeout_s = 20;
  o.judge.threads = 1;
  o.judge.worker_program = AK_CLI_PATH;
  o.judge.build.cache_dir = cache;
  return o;
}

TEST(StarterCheck, ACorrectTemplatePasses) {
  TempDir tmp;
  const fs::path dir = task_with_starter(tmp.path, kCandidates / "good.cpp", "elementwise_chain");
  StarterCheckOptions o = options(tmp.path / "cache");
  int floors = 0;
  o.roofline_floor_ns = [&](const kernels::Task& task) {
    ++floors;
    EXPECT_EQ(task.name, "add_relu_test");
    return 0.0;
  };
  auto c = check_starter(dir, o);
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_TRUE(c->passed()) << c->gate << ": " << c->message;
  EXPECT_FALSE(c->failed());
  EXPECT_EQ(c->template_name, "elementwise_chain");
  EXPECT_NE(c->message.find("cases passed"), std::string::npos) << c->message;
  EXPECT_GT(c->seconds, 0);
  EXPECT_EQ(floors, 1);
}

TEST(StarterCheck, ASkeletonReturnsNonZeroAndIsNoFailure) {
  TempDir tmp;
  std::ofstream(tmp.path / "skeleton.cpp") << "#include <autokernel_kernel.h>\n"
                                              "extern \"C\" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, "
                                              "int32_t, void*) { return 99; }\n";
  const fs::path dir = task_with_starter(tmp.path, tmp.path / "skeleton.cpp", "skeleton");
  auto c = check_starter(dir, options(tmp.path / "cache"));
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->verdict, Verdict::kRuntimeError);
  EXPECT_EQ(c->gate, "captured");
  EXPECT_NE(c->message.find("returned 99"), std::string::npos) << c->message;
  EXPECT_TRUE(c->skeleton());
  EXPECT_FALSE(c->failed());
}

TEST(StarterCheck, AWrongTemplateFailsWithTheJudgesReason) {
  TempDir tmp;
  const fs::path dir = task_with_starter(tmp.path, kCandidates / "noop.cpp", "elementwise_chain");
  auto c = check_starter(dir, options(tmp.path / "cache"));
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->verdict, Verdict::kIncorrectNumerical) << c->message;
  EXPECT_TRUE(c->failed());
  EXPECT_NE(c->message.find("never written"), std::string::npos) << c->message;

  const fs::path broken = task_with_starter(tmp.path / "b", kCandidates / "compile_error.cpp", "elementwise_chain");
  auto b = check_starter(broken, options(tmp.path / "cache"));
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  EXPECT_EQ(b->verdict, Verdict::kCompileError);
  EXPECT_EQ(b->message.find('\n'), std::string::npos);  // one line for the table
}

TEST(StarterCheck, ManyInOrderWithCallbacksAndTheFirstErrorStops) {
  TempDir tmp;
  const fs::path dir = task_with_starter(tmp.path, kCandidates / "good.cpp", "elementwise_chain");
  StarterCheckOptions o = options(tmp.path / "cache");
  std::vector<std::string> events;
  o.on_start = [&](const fs::path& d) { events.push_back("start " + d.filename().string()); };
  o.on_check = [&](const fs::path& d, const StarterCheck& c) {
    events.push_back("done " + d.filename().string() + " " + verdict_name(c.verdict));
  };
  auto checks = check_starters({dir, tmp.path / "missing"}, o);
  ASSERT_FALSE(checks.is_ok());
  EXPECT_EQ(checks.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(events, (std::vector<std::string>{"start task", "done task PASSED", "start missing"}));
  auto one = check_starters({dir}, o);
  ASSERT_TRUE(one.is_ok()) << one.status().message();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_TRUE(one->front().passed());
}

TEST(StarterCheck, NoTaskOrNoStarterIsAStatus) {
  TempDir tmp;
  auto missing = check_starter(tmp.path / "none", options(tmp.path / "cache"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidInput);
  write_add_relu_task(tmp.path / "task", "cpu", "cpu");  // the fixture names no starter
  auto none = check_starter(tmp.path / "task", options(tmp.path / "cache"));
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().message().find("starter.file"), std::string::npos) << none.status().message();
}

}  // namespace
}  // namespace ak::verifier
