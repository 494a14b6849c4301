// Names and identities: hashes, shapes, signatures, item references, statuses.
#include <gtest/gtest.h>

#include "base/sha256.h"
#include "memory/memory.h"

namespace ak::memory {
namespace {

TEST(Sha256, MatchesFipsTestVectors) {
  // FIPS 180-4 examples: "", "abc", and the two-block message.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a': many full blocks.
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundaries) {
  // 55 bytes fit one padded block, 56 need two; both must differ and be stable.
  std::string a55(55, 'x'), a56(56, 'x'), a64(64, 'x');
  EXPECT_EQ(sha256_hex(a55).size(), 64u);
  EXPECT_NE(sha256_hex(a55), sha256_hex(a56));
  EXPECT_NE(sha256_hex(a56), sha256_hex(a64));
  EXPECT_EQ(sha256_hex(a56), sha256_hex(std::string(56, 'x')));
}

TEST(Shape, FormatsAndParsesRoundTrip) {
  Shape shape = {{32, 12, 128, 128}, {}, {768}};
  EXPECT_EQ(format_shape(shape), "32x12x128x128,(),768");
  auto parsed = parse_shape("32x12x128x128,(),768");
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  EXPECT_EQ(parsed.value(), shape);
  EXPECT_EQ(parse_shape("64X768").value(), (Shape{{64, 768}}));
}

TEST(Shape, RejectsBadText) {
  for (const char* text : {"", "32x", "x32", "32x-1", "32xabc", "32,,8", "3.5x2", "32 x 8"}) {
    auto parsed = parse_shape(text);
    EXPECT_FALSE(parsed.is_ok()) << text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidInput) << text;
  }
}

TEST(Signature, CanonicalRegardlessOfAttributeOrderAndSpacing) {
  WorkloadSpec a;
  a.op_type = "LayerNormalization";
  a.attributes_json = R"({"epsilon": 1e-05, "axis": -1})";
  a.dtypes = {"float16", "float16", "float16"};
  WorkloadSpec b = a;
  b.attributes_json = R"({"axis":-1,"epsilon":1e-05})";
  auto sa = canonical_signature(a);
  auto sb = canonical_signature(b);
  ASSERT_TRUE(sa.is_ok()) << sa.status().message();
  EXPECT_EQ(sa.value(), sb.value());
  EXPECT_EQ(sa.value(), R"(LayerNormalization{"axis":-1,"epsilon":1e-05}[float16,float16,float16])");
  b.layout = "nhwc";
  EXPECT_EQ(canonical_signature(b).value(), sa.value() + "@nhwc");
}

TEST(Signature, RejectsMissingPieces) {
  WorkloadSpec w;
  w.dtypes = {"float16"};
  EXPECT_FALSE(canonical_signature(w).is_ok());  // no op type
  w.op_type = "Softmax";
  w.attributes_json = "[1, 2]";
  EXPECT_FALSE(canonical_signature(w).is_ok());  // not an object
  w.attributes_json = "{";
  EXPECT_FALSE(canonical_signature(w).is_ok());  // not JSON
  w.attributes_json = "";
  EXPECT_EQ(canonical_signature(w).value(), "Softmax{}[float16]");
  w.dtypes.clear();
  EXPECT_FALSE(canonical_signature(w).is_ok());
}

TEST(CandidateHash, IsTheSourceHashWithoutParameters) {
  CandidateSpec c;
  c.source = "abc";
  EXPECT_EQ(candidate_hash(c).value(), sha256_hex("abc"));
  c.parameters_json = R"({"tile": 64, "warps": 4})";
  std::string with_parameters = candidate_hash(c).value();
  EXPECT_EQ(with_parameters, sha256_hex(std::string("abc") + '\0' + R"({"tile":64,"warps":4})"));
  c.parameters_json = R"({"warps":4,"tile":64})";
  EXPECT_EQ(candidate_hash(c).value(), with_parameters);
  c.parameters_json = "not json";
  EXPECT_FALSE(candidate_hash(c).is_ok());
}

TEST(ItemRef, ParsesAndFormats) {
  auto w = parse_item_ref("W12");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->kind, ItemKind::kWorkload);
  EXPECT_EQ(w->id, 12);
  EXPECT_EQ(parse_item_ref("c7")->kind, ItemKind::kCandidate);
  EXPECT_EQ(format_item_ref(*parse_item_ref("e3")), "E3");
  for (const char* bad : {"", "W", "W0", "W-1", "X5", "W5x", "12"}) EXPECT_FALSE(parse_item_ref(bad).has_value()) << bad;
}

TEST(QueryFor, ExactMatchesOfTheWorkload) {
  WorkloadSpec w;
  w.op_type = "Softmax";
  w.attributes_json = R"({"axis": -1})";
  w.dtypes = {"float16", "int64"};
  w.shape = {{32, 128}, {4}};
  w.arch = "sm_90";
  auto q = query_for(w);
  ASSERT_TRUE(q.is_ok()) << q.status().message();
  EXPECT_EQ(q->signature, canonical_signature(w).value());
  EXPECT_EQ(q->op_type, "Softmax");
  EXPECT_EQ(q->dtype, "float16");
  EXPECT_EQ(q->shape, w.shape);
  EXPECT_EQ(q->arch, "");  // every architecture
  w.dtypes.clear();
  EXPECT_FALSE(query_for(w).is_ok());
  w.dtypes = {"float16"};
  w.attributes_json = "[1]";
  EXPECT_FALSE(query_for(w).is_ok());
}

}  // namespace
}  // namespace ak::memory
