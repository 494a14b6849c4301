// The ONNX loader on real protobuf bytes: valid models, external data, and the bad files
// users will feed it. Builds ModelProtos directly, so it links the generated protobuf code
// (and no torch).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "models/onnx_io.h"
#include "onnx/onnx-ml.pb.h"
#include "tests/models/model_builder.h"

namespace ak::models {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

/// y = x + w, with w an initializer stored as `w` describes.
onnx::ModelProto add_model(const std::function<void(onnx::TensorProto*)>& fill_w) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("add");
  auto* x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(4);
  g->add_output()->set_name("y");
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  fill_w(w);
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->add_input("x");
  n->add_input("w");
  n->add_output("y");
  return m;
}

void set_external(onnx::TensorProto* t, const std::string& location, int64_t offset, int64_t length) {
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const std::string& k, const std::string& v) {
    auto* e = t->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location);
  add("offset", std::to_string(offset));
  add("length", std::to_string(length));
}

const std::vector<float> kW = {1.5f, -2.f, 3.25f, 0.f};

std::string w_bytes() { return std::string(reinterpret_cast<const char*>(kW.data()), kW.size() * 4); }

TEST(Loader, LoadsInlineModel) {
  TempDir dir;
  auto m = add_model([](onnx::TensorProto* w) { for (float v : kW) w->add_float_data(v); });
  write_bytes(dir.path / "m.onnx", m.SerializeAsString());
  auto model = load_model(dir.path / "m.onnx");
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  EXPECT_EQ(model->opset(), 17);
  ASSERT_EQ(model->graph.nodes.size(), 1u);
  EXPECT_EQ(model->graph.nodes[0].op_type, "Add");
  EXPECT_EQ(model->graph.nodes[0].name, "Add_0");  // unnamed nodes get a stable name
  const TensorData* w = model->graph.find_initializer("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(testing::floats_of(*w), kW);
  ASSERT_EQ(model->graph.runtime_inputs().size(), 1u);
  EXPECT_EQ(model->graph.runtime_inputs()[0]->name, "x");
}

TEST(Loader, DecodesTypedFieldsForHalfAndInt8) {
  onnx::TensorProto p;
  p.set_name("h");
  p.set_data_type(onnx::TensorProto::FLOAT16);
  p.add_dims(2);
  p.add_int32_data(0x3c00);  // 1.0
  p.add_int32_data(0xc000);  // -2.0
  TempDir dir;
  write_bytes(dir.path / "h.pb", p.SerializeAsString());
  auto t = load_tensor_file(dir.path / "h.pb");
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  ASSERT_EQ(t->dtype, DType::kFloat16);
  EXPECT_EQ(half_to_float(t->data<uint16_t>()[0]), 1.0f);
  EXPECT_EQ(half_to_float(t->data<uint16_t>()[1]), -2.0f);

  p.Clear();
  p.set_data_type(onnx::TensorProto::INT8);
  p.add_dims(3);
  p.add_int32_data(-128);
  p.add_int32_data(5);  // too few values for 3 elements
  write_bytes(dir.path / "i.pb", p.SerializeAsString());
  auto bad = load_tensor_file(dir.path / "i.pb");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("holds 2 values, expected 3"), std::string::npos) << bad.status().message();
}

TEST(Loader, RejectsFilesThatAreNotModels) {
  TempDir dir;
  auto missing = load_model(dir.path / "nope.onnx");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(missing.status().message().find("does not exist"), std::string::npos);

  auto is_dir = load_model(dir.path);
  ASSERT_FALSE(is_dir.is_ok());
  EXPECT_NE(is_dir.status().message().find("is a directory"), std::string::npos);

  write_bytes(dir.path / "empty.onnx", "");
  auto empty = load_model(dir.path / "empty.onnx");
  ASSERT_FALSE(empty.is_ok());
  EXPECT_NE(empty.status().message().find("not an ONNX model"), std::string::npos);

  write_bytes(dir.path / "text.onnx", "this is definitely not a protobuf \xff\xff\xff\xff");
  auto text = load_model(dir.path / "text.onnx");
  ASSERT_FALSE(text.is_ok());
  EXPECT_NE(text.status().message().find("not an ONNX model"), std::string::npos) << text.status().message();

  // A valid model cut at every byte: the parse error naming the file, except where the cut
  // falls exactly between two top-level fields (protobuf cannot tell that from a shorter
  // model): after ir_version there is no graph, after the graph no opset_import.
  auto m = add_model([](onnx::TensorProto* w) { w->set_raw_data(w_bytes()); });
  const std::string bytes = m.SerializeAsString();
  onnx::ModelProto head;
  head.set_ir_version(m.ir_version());
  const size_t ir_end = head.ByteSizeLong();
  *head.mutable_graph() = m.graph();
  const size_t graph_end = head.ByteSizeLong();
  ASSERT_EQ(bytes.substr(0, graph_end), head.SerializeAsString());  // fields go out in number order
  const fs::path cut_path = dir.path / "cut.onnx";
  const std::string parse_failed =
      "'" + cut_path.string() + "' is not an ONNX model (protobuf parse failed: truncated or not a ModelProto)";
  for (size_t cut = 1; cut < bytes.size(); ++cut) {
    write_bytes(cut_path, bytes.substr(0, cut));
    auto r = load_model(cut_path);
    if (cut == graph_end) {
      ASSERT_TRUE(r.is_ok()) << r.status().message();
      EXPECT_EQ(r->graph.nodes.size(), 1u);
      EXPECT_EQ(r->graph.initializers.size(), 1u);
      EXPECT_EQ(r->opset(""), 1);  // no opset_import: IR 1/2's implied opset
      continue;
    }
    ASSERT_FALSE(r.is_ok()) << "cut at " << cut << " of " << bytes.size() << " loaded";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput) << "cut at " << cut;
    EXPECT_EQ(r.status().message(), cut == ir_end ? "'" + cut_path.string() + "' is not an ONNX model (no graph)" : parse_failed)
        << "cut at " << cut;
  }
}

TEST(Loader, RejectsRawDataOfTheWrongSize) {
  TempDir dir;
  auto m = add_model([](onnx::TensorProto* w) { w->set_raw_data(std::string(12, '\0')); });
  write_bytes(dir.path / "m.onnx", m.SerializeAsString());
  auto r = load_model(dir.path / "m.onnx");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("tensor 'w': raw_data holds 12 bytes, expected 16"), std::string::npos)
      << r.status().message();
}

TEST(Loader, ReadsExternalDataInsideTheModelFolder) {
  TempDir dir;
  fs::create_directories(dir.path / "weights");
  write_bytes(dir.path / "weights" / "w.bin", std::string(8, 'x') + w_bytes());
  auto m = add_model([](onnx::TensorProto* w) { set_external(w, "weights/w.bin", 8, 16); });
  write_bytes(dir.path / "m.onnx", m.SerializeAsString());
  auto model = load_model(dir.path / "m.onnx");
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  EXPECT_EQ(testing::floats_of(*model->graph.find_initializer("w")), kW);
}

TEST(Loader, RejectsExternalDataOutsideTheModelFolder) {
  TempDir dir;
  fs::create_directories(dir.path / "model");
  write_bytes(dir.path / "secret.bin", w_bytes());
  struct Case {
    std::string location;
    std::string expect;
  };
  fs::create_symlink(dir.path / "secret.bin", dir.path / "model" / "link.bin");
  for (const Case& c : {Case{(dir.path / "secret.bin").string(), "absolute"}, Case{"../secret.bin", "'..'"},
                        Case{"sub/../../secret.bin", "'..'"}, Case{"link.bin", "outside the model's folder"},
                        Case{"missing.bin", "is missing"}}) {
    auto m = add_model([&](onnx::TensorProto* w) { set_external(w, c.location, 0, 16); });
    write_bytes(dir.path / "model" / "m.onnx", m.SerializeAsString());
    auto r = load_model(dir.path / "model" / "m.onnx");
    ASSERT_FALSE(r.is_ok()) << c.location;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << c.location << ": " << r.status().message();
  }
}

TEST(Loader, RejectsExternalRangesPastTheEnd) {
  TempDir dir;
  write_bytes(dir.path / "w.bin", w_bytes());
  auto m = add_model([](onnx::TensorProto* w) { set_external(w, "w.bin", 8, 16); });
  write_bytes(dir.path / "m.onnx", m.SerializeAsString());
  auto r = load_model(dir.path / "m.onnx");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("past the end"), std::string::npos) << r.status().message();
}

TEST(Loader, ReadsExternalDataBeyondTwoGigabytes) {
  // A sparse 3 GB weights file: the tensor sits past the 2 GB mark that a protobuf
  // message (and a 32-bit offset) cannot reach. mmap reads it without copying the file.
  TempDir dir;
  const int64_t offset = 3LL << 30;
  {
    std::ofstream out(dir.path / "big.bin", std::ios::binary);
    out.seekp(offset);
    out << w_bytes();
  }
  ASSERT_GT(fs::file_size(dir.path / "big.bin"), static_cast<uintmax_t>(offset));
  auto m = add_model([&](onnx::TensorProto* w) { set_external(w, "big.bin", offset, 16); });
  write_bytes(dir.path / "m.onnx", m.SerializeAsString());
  auto model = load_model(dir.path / "m.onnx");
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  EXPECT_EQ(testing::floats_of(*model->graph.find_initializer("w")), kW);
}

TEST(Loader, NamesTheNodeThatReadsAnUndefinedValue) {
  TempDir dir;
  auto m = add_model([](onnx::TensorProto* w) { w->set_raw_data(w_bytes()); });
  m.mutable_graph()->mutable_node(0)->set_name("the_add");
  m.mutable_graph()->mutable_node(0)->set_input(1, "nowhere");
  write_bytes(dir.path / "m.onnx", m.SerializeAsString());
  auto r = load_model(dir.path / "m.onnx");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("node 'the_add' (Add) reads 'nowhere', which nothing defines"), std::string::npos)
      << r.status().message();
}

TEST(Loader, SortsNodesTopologically) {
  TempDir dir;
  auto m = add_model([](onnx::TensorProto* w) { w->set_raw_data(w_bytes()); });
  auto* g = m.mutable_graph();
  g->mutable_output(0)->set_name("z");
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->add_input("y");
  relu->add_output("z");
  g->mutable_node()->SwapElements(0, 1);  // Relu first: out of order
  write_bytes(dir.path / "m.onnx", m.SerializeAsString());
  auto model = load_model(dir.path / "m.onnx");
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  ASSERT_EQ(model->graph.nodes.size(), 2u);
  EXPECT_EQ(model->graph.nodes[0].op_type, "Add");
  EXPECT_EQ(model->graph.nodes[1].op_type, "Relu");

  g->mutable_node(0)->set_input(0, "z");  // Relu(z) -> z: a cycle through itself
  g->mutable_node(1)->set_input(0, "z");
  write_bytes(dir.path / "m.onnx", m.SerializeAsString());
  EXPECT_FALSE(load_model(dir.path / "m.onnx").is_ok());
}

TEST(Loader, SaveAndLoadRoundTripKeepsAttributesAndSubgraphs) {
  using namespace testing;
  Graph body;
  body.name = "body";
  body.outputs.push_back(tensor_info("b", DType::kFloat32, {1}));
  body.nodes.push_back(node("Identity", {"x"}, {"b"}));
  Graph g;
  g.name = "main";
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {2, 3}, {"batch", ""}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {1}));
  Attribute then_branch;
  then_branch.name = "then_branch";
  then_branch.type = Attribute::Type::kGraph;
  then_branch.g = std::make_shared<Graph>(body);
  Attribute perm;
  perm.name = "perm";
  perm.type = Attribute::Type::kInts;
  perm.ints = {1, 0};
  g.initializers.push_back(int64_tensor("c", {}, {1}));
  g.nodes.push_back(node("If", {"c"}, {"y"}, {then_branch, perm}));
  TempDir dir;
  ASSERT_TRUE(save_model(model_of(g), dir.path / "m.onnx").is_ok());
  auto loaded = load_model(dir.path / "m.onnx");
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  const Node& n = loaded->graph.nodes.at(0);
  ASSERT_NE(n.find_attribute("then_branch"), nullptr);
  EXPECT_EQ(n.find_attribute("then_branch")->g->nodes.at(0).op_type, "Identity");
  EXPECT_EQ(n.attr_ints("perm"), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(loaded->graph.inputs[0].shape[0].param, "batch");
  EXPECT_EQ(loaded->graph.inputs[0].shape[1].value, 3);
}

TEST(Loader, ReadsOnnxBackendTestData) {
  // ONNX's own test data (Debian libonnx-testdata): the input of test_abs is a float
  // tensor whose absolute values are the expected output.
  const fs::path dir = "/usr/share/libonnx-testdata/data/node/test_abs";
  if (!fs::exists(dir)) GTEST_SKIP() << "libonnx-testdata is not installed";
  auto model = load_model(dir / "model.onnx");
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  auto in = load_tensor_file(dir / "test_data_set_0" / "input_0.pb");
  auto out = load_tensor_file(dir / "test_data_set_0" / "output_0.pb");
  ASSERT_TRUE(in.is_ok() && out.is_ok());
  ASSERT_EQ(in->dims, out->dims);
  auto x = testing::floats_of(*in), y = testing::floats_of(*out);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(std::abs(x[i]), y[i]);
}

}  // namespace
}  // namespace ak::models
