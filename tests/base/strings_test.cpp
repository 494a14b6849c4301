// base/strings.h, base/file.h, base/status.h and base/sha256.h: the helpers every module shares.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/file.h"
#include "base/remove_tree.h"
#include "base/sha256.h"
#include "base/status.h"
#include "base/strings.h"

namespace ak {
namespace {

namespace fs = std::filesystem;

TEST(Strings, LowerOnlyTouchesAsciiLetters) {
  EXPECT_EQ(lower("SAME_Upper-1x"), "same_upper-1x");
  EXPECT_EQ(lower(""), "");
  EXPECT_EQ(lower("\xc3\x89t\xc3\xa9"), "\xc3\x89t\xc3\xa9");  // UTF-8 bytes left alone
}

TEST(Strings, JoinStringsAndIntegers) {
  EXPECT_EQ(join(std::vector<std::string>{"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join(std::vector<std::string>{"only"}, ", "), "only");
  EXPECT_EQ(join(std::vector<std::string>{}, ", "), "");
  EXPECT_EQ(join(std::vector<int64_t>{1, 3, 224, -1}, "x"), "1x3x224x-1");
  EXPECT_EQ(join(std::vector<int64_t>{}, ","), "");
}

TEST(File, ReadsBytesAndNamesTheProblem) {
  const fs::path dir = fs::temp_directory_path() / ("ak_base_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string bytes("a\0b\nc", 5);
  std::ofstream(dir / "f.bin", std::ios::binary) << bytes;
  auto read = read_file(dir / "f.bin");
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  EXPECT_EQ(*read, bytes);
  std::ofstream(dir / "empty");
  EXPECT_EQ(*read_file(dir / "empty"), "");

  auto missing = read_file(dir / "nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(missing.status().message(), "'" + (dir / "nope").string() + "' does not exist");
  EXPECT_EQ(read_file(dir).status().message(), "'" + dir.string() + "' is a directory, not a file");
  EXPECT_EQ(read_file(dir).status().exit_code(), 2);
  EXPECT_TRUE(remove_tree(dir));
  EXPECT_FALSE(fs::exists(dir));
}

TEST(Status, CodesMapToExitCodesAndContextPrefixes) {
  EXPECT_EQ(Status::ok().exit_code(), 0);
  EXPECT_EQ(invalid_input("x").exit_code(), 2);
  EXPECT_EQ(unsupported("x").exit_code(), 2);
  EXPECT_EQ(failed("x").exit_code(), 1);
  EXPECT_EQ(internal_error("x").exit_code(), 1);
  EXPECT_EQ(internal_error("boom").with_context("node 'a' (Add, opset 17)").message(), "node 'a' (Add, opset 17): boom");
  EXPECT_TRUE(Status::ok().with_context("ignored").is_ok());
  Result<int> from_ok_status = Status::ok();  // a bug in the caller, not a value
  EXPECT_EQ(from_ok_status.status().code(), StatusCode::kInternal);
}

TEST(Sha256, KnownVectors) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace ak
