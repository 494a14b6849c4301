// pack.json: add entries, write, read back the same Pack field by field; every malformed
// pack fails with one line naming pack.json and the field.
#include "kernels/pack.h"

#include <functional>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "kernels/autokernel_kernel.h"
#include "tests/kernels/scratch.h"

namespace ak::kernels {
namespace {

using testing::read_text;
using testing::ScratchDir;
using testing::write_text;

/// A task directory with a var axis "batch" (captured at 2) and a const axis "d" (16).
Task make_task(const std::filesystem::path& dir) {
  Task t;
  t.dir = std::filesystem::absolute(dir);
  t.name = "2_gelu_chain";
  t.op_type = "fused:gelu";
  t.axes = {{"batch", true, 2}, {"d", false, 16}};
  TaskTensor x{"x", AK_DTYPE_FLOAT, {"batch", "d"}, {2, 16}, "inputs/0_x.pb", "captured", std::nullopt};
  TaskTensor y{"y", AK_DTYPE_FLOAT, {"batch", "d"}, {2, 16}, "outputs/0_y.pb", "normal", std::nullopt};
  t.inputs = {x};
  t.outputs = {y};
  std::filesystem::create_directories(dir);
  EXPECT_TRUE(write_task(dir, t).is_ok());
  write_text(dir / "subgraph.onnx", "not parsed by the pack reader");
  return t;
}

struct PackFixture : ::testing::Test {
  ScratchDir scratch;
  std::filesystem::path pack_dir = scratch / "pack";
  Pack pack;
  PackEntry entry;
  std::string original;  ///< pack.json as write_pack wrote it

  void SetUp() override {
    const Task task = make_task(scratch / "task");
    const auto source = write_text(scratch / "gelu.cpp", testing::kVectorAddCpp);
    pack.dir = pack_dir;
    pack.created_by = "autokernel test";
    PackEntry wanted;
    wanted.workload = "w123";
    wanted.ranges = {{"batch", 1, 8}};
    wanted.evidence = {{4, 9}, 2.5, 2.25, 2.75, {"shape", "numerical"}, "PASSED"};
    auto added = add_pack_entry(&pack, task, source, wanted);
    ASSERT_TRUE(added.is_ok()) << added.status().message();
    entry = *added;
    pack.verifications.push_back({"abc", "m.onnx", "cpu", "Xeon", "2026-12-03T13:00:00Z", "PASSED", {entry.id}});
    ASSERT_TRUE(write_pack(pack_dir, pack).is_ok());
    original = read_text(pack_dir / "pack.json");
  }

  /// The original pack.json changed by `edit`, written back; then read_pack's error message.
  std::string error_after(const std::function<void(nlohmann::ordered_json&)>& edit) {
    auto j = nlohmann::ordered_json::parse(original);
    edit(j);
    write_text(pack_dir / "pack.json", j.dump(2));
    auto read = read_pack(pack_dir);
    if (read.is_ok()) return "(read_pack accepted it)";
    EXPECT_EQ(read.status().code(), StatusCode::kInvalidInput);
    EXPECT_EQ(read.status().message().find('\n'), std::string::npos) << "one line";
    return read.status().message();
  }
};

TEST_F(PackFixture, AddEntryFillsIdHashLanguageAndCopiesTheTaskWithoutCapturedData) {
  EXPECT_EQ(entry.source_sha256, sha256_hex(testing::kVectorAddCpp));
  EXPECT_EQ(entry.id, "gelu_chain_" + entry.source_sha256.substr(0, 8));
  EXPECT_EQ(entry.language, "cpp");
  EXPECT_EQ(entry.device, "cpu");
  EXPECT_EQ(entry.source, "kernel.cpp");
  ASSERT_EQ(entry.ranges.size(), 1u);
  EXPECT_EQ(entry.ranges[0], (AxisRange{"batch", 1, 8}));
  EXPECT_EQ(read_text(pack.source_path(entry)), testing::kVectorAddCpp);
  EXPECT_TRUE(std::filesystem::exists(pack.entry_dir(entry) / "subgraph.onnx"));
  auto task = pack.entry_task(entry);
  ASSERT_TRUE(task.is_ok()) << task.status().message();
  EXPECT_EQ(task->name, "2_gelu_chain");
  EXPECT_TRUE(task->inputs[0].file.empty());
  EXPECT_EQ(task->inputs[0].fill, "normal");  // "captured" has nothing to keep in a pack
}

TEST_F(PackFixture, WriteThenReadIsTheSamePack) {
  auto read = read_pack(pack_dir);
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  Pack expected = pack;
  expected.dir = std::filesystem::absolute(pack_dir);
  EXPECT_EQ(*read, expected);
  ASSERT_NE(read->find(entry.id), nullptr);
  EXPECT_EQ(read->find("nope"), nullptr);
}

TEST_F(PackFixture, AddingTheSameSourceForTheSameWorkloadReplacesTheEntry) {
  const Task task = make_task(scratch / "task");
  PackEntry again;
  again.workload = "w123";
  auto added = add_pack_entry(&pack, task, scratch / "gelu.cpp", again);
  ASSERT_TRUE(added.is_ok());
  ASSERT_EQ(pack.entries.size(), 1u);
  EXPECT_EQ(pack.entries[0].ranges[0], (AxisRange{"batch", 2, 2}));  // the captured size by default
}

TEST_F(PackFixture, AddEntryRefusesARangeOnAnAxisThatIsNotVar) {
  const Task task = make_task(scratch / "task");
  PackEntry bad;
  bad.ranges = {{"d", 1, 4}};
  auto added = add_pack_entry(&pack, task, scratch / "gelu.cpp", bad);
  ASSERT_FALSE(added.is_ok());
  EXPECT_NE(added.status().message().find("'d' is not one of its var axes"), std::string::npos);
}

TEST_F(PackFixture, MalformedJsonNamesTheFile) {
  write_text(pack_dir / "pack.json", "{\"schema\": ");
  auto read = read_pack(pack_dir);
  ASSERT_FALSE(read.is_ok());
  EXPECT_EQ(read.status().message(), (pack_dir / "pack.json").string() + ": not a JSON object");
}

TEST(Pack, AFolderWithoutPackJsonOrNoFolderIsBadInput) {
  ScratchDir scratch;
  auto missing = read_pack(scratch / "nothing");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("is not a pack folder"), std::string::npos);
  auto empty = read_pack(scratch.path());
  ASSERT_FALSE(empty.is_ok());
  EXPECT_NE(empty.status().message().find("pack.json' does not exist"), std::string::npos);
}

TEST_F(PackFixture, EveryBadFieldIsNamed) {
  const std::string file = (pack_dir / "pack.json").string() + ": ";
  EXPECT_EQ(error_after([](auto& j) { j["schema"] = "autokernel.pack/9"; }),
            file + "schema: 'autokernel.pack/9' is not supported (this autokernel reads autokernel.pack/1)");
  EXPECT_EQ(error_after([](auto& j) { j.erase("schema"); }), file + "schema: missing (a string)");
  EXPECT_EQ(error_after([](auto& j) { j["entries"] = 3; }), file + "entries: must be an array");
  EXPECT_EQ(error_after([](auto& j) { j["entries"][0]["id"] = 7; }), file + "entries[0].id: must be a string, not number");
  EXPECT_EQ(error_after([](auto& j) { j["entries"][0]["id"] = "../x"; }),
            file + "entries[0].id: '../x' is not a folder name");
  EXPECT_EQ(error_after([](auto& j) { j["entries"][0]["id"] = "other"; }),
            file + "entries[0].id: entries/other/ does not exist");
  EXPECT_EQ(error_after([](auto& j) { j["entries"][0]["language"] = "rust"; }),
            file + "entries[0].language: must be \"cuda\" or \"cpp\", not 'rust'");
  EXPECT_EQ(error_after([](auto& j) { j["entries"][0]["device"] = "tpu"; }),
            file + "entries[0].device: must be \"cpu\" or \"cuda\", not 'tpu'");
  EXPECT_EQ(error_after([](auto& j) { j["entries"][0]["device"] = "cuda"; }),
            file + "entries[0].device: 'cuda' does not fit language 'cpp' (cuda sources run on cuda, cpp sources on cpu)");
  EXPECT_EQ(error_after([](auto& j) { j["entries"][0]["ranges"]["d"] = {{"min", 1}, {"max", 2}}; }),
            file + "entries[0].ranges.d: 'd' is not a var axis of task '2_gelu_chain' (var axes: batch)");
  EXPECT_EQ(error_after([](auto& j) { j["entries"][0]["ranges"]["batch"] = {{"min", 5}, {"max", 2}}; }),
            file + "entries[0].ranges.batch: must have 0 <= min <= max, not 5..2");
  EXPECT_EQ(error_after([](auto& j) { j["entries"][0]["ranges"] = nlohmann::ordered_json::object(); }),
            file + "entries[0].ranges: no range for var axis 'batch' of task '2_gelu_chain'");
  EXPECT_EQ(error_after([](auto& j) { j["entries"][0]["evidence"]["speedup"] = "fast"; }),
            file + "entries[0].evidence.speedup: must be a number, not string");
  EXPECT_EQ(error_after([](auto& j) { j["entries"].push_back(j["entries"][0]); }),
            file + "entries[1].id: '" + entry.id + "' is used by an earlier entry");
  EXPECT_EQ(error_after([](auto& j) { j["verifications"][0].erase("verdict"); }),
            file + "verifications[0].verdict: missing (a string)");
}

TEST_F(PackFixture, AMissingOrChangedSourceIsNamed) {
  const std::string file = (pack_dir / "pack.json").string() + ": ";
  const std::string relative = "entries/" + entry.id + "/kernel.cpp";
  write_text(pack.source_path(entry), std::string(testing::kVectorAddCpp) + "// changed\n");
  EXPECT_EQ(error_after([](auto&) {}), file + "entries[0].source_sha256: does not match " + relative);
  std::filesystem::remove(pack.source_path(entry));
  EXPECT_EQ(error_after([](auto&) {}), file + "entries[0].source: " + relative + " does not exist or cannot be read");
}

TEST_F(PackFixture, ABrokenTaskOfAnEntryIsNamed) {
  write_text(pack.entry_dir(entry) / "task.json", "[]");
  const std::string message = error_after([](auto&) {});
  EXPECT_EQ(message.rfind((pack_dir / "pack.json").string() + ": entries[0]: its task: ", 0), 0u) << message;
  EXPECT_NE(message.find("task.json: not a JSON object"), std::string::npos) << message;
}

}  // namespace
}  // namespace ak::kernels
