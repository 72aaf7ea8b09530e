// The malformed-input corpus: damaged ONNX models and engine files, derived deterministically from
// real ones (truncations, seeded bit flips, zero-filled runs) plus hand-made ONNX protos, and
// runtime misuse of a good engine. Every one must come back as an error value with a one-line
// message and a sensible code; none may crash (run this under ASan/UBSan: `make asan`).
//
// Files in tests/malformed/regressions/ (minimized fuzzer finds) are replayed through the same
// calls the fuzz targets make (fuzz/fuzz_drive.h):
//   onnx_*          bytes as an ONNX model (fuzz_onnx_import)
//   engine_*        bytes as an engine file, as given and with the checksum recomputed
//                   (fuzz_engine_load)
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include "../../fuzz/fuzz_drive.h"
#include "kiln/kiln.h"
#include "onnx/onnx-ml.pb.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = KILN_SOURCE_DIR;

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_bytes(const fs::path& p, const std::string& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(b.data(), static_cast<std::streamsize>(b.size()));
}

// The models the corpus is derived from: a real network (initializers, 100+ nodes), two single-op
// models with inputs only, and one with a subgraph (Loop).
const std::vector<std::string>& source_models() {
  static const std::vector<std::string> m = {
      "conformance-data/light/test_squeezenet/model.onnx",
      "conformance-data/node/test_add/model.onnx",
      "conformance-data/node/test_conv_with_strides_padding/model.onnx",
      "conformance-data/node/test_loop11/model.onnx",
  };
  return m;
}

BuilderConfig quiet_config() {
  BuilderConfig c;
  c.backend = "reference";
  c.show_progress = false;
  return c;
}

// One error's acceptability: an error value (not ok), a one-line non-empty message, one of the
// codes a damaged or unusable input deserves. Returns "" if fine, else what is wrong.
std::string bad_error(const Status& s, const std::set<StatusCode>& allowed) {
  if (s.ok()) return "no error";
  if (s.message().empty()) return "empty message";
  if (s.message().find('\n') != std::string::npos) return "multi-line message: " + s.message();
  if (!allowed.count(s.code())) return std::string("code ") + status_code_name(s.code()) + ": " + s.message();
  return "";
}

const std::set<StatusCode> kDamageCodes = {StatusCode::kCorrupt, StatusCode::kInvalidArgument, StatusCode::kUnsupported,
                                           StatusCode::kIncompatible};
// A damaged ONNX model may also ask for an impossible allocation (a flipped dim) or name an
// external data file that is not there.
const std::set<StatusCode> kOnnxDamageCodes = {StatusCode::kCorrupt,     StatusCode::kInvalidArgument,
                                               StatusCode::kUnsupported, StatusCode::kIncompatible,
                                               StatusCode::kOutOfMemory, StatusCode::kNotFound};

// --- deterministic mutations --------------------------------------------------------------------

std::string truncate_at(const std::string& b, size_t n) { return b.substr(0, std::min(n, b.size())); }

std::string flip_bits(std::string b, const std::vector<size_t>& bits) {
  for (size_t bit : bits) b[bit / 8] = static_cast<char>(static_cast<uint8_t>(b[bit / 8]) ^ (1u << (bit % 8)));
  return b;
}

struct Mutant {
  std::string what;
  std::string bytes;
};

// Seeded single-bit flips over the whole range [begin, end), multi-bit flips, and zero-filled runs.
std::vector<Mutant> seeded_mutants(const std::string& b, uint64_t seed, size_t begin, size_t singles, size_t multis,
                                   size_t zero_runs) {
  std::vector<Mutant> out;
  if (b.size() <= begin) return out;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> bit(begin * 8, b.size() * 8 - 1);
  for (size_t i = 0; i < singles; ++i) {
    const size_t k = bit(rng);
    out.push_back({"flip bit " + std::to_string(k), flip_bits(b, {k})});
  }
  for (size_t i = 0; i < multis; ++i) {
    std::vector<size_t> bits(2 + rng() % 7);
    std::string desc = "flip bits";
    for (size_t& k : bits) {
      k = bit(rng);
      desc += " " + std::to_string(k);
    }
    out.push_back({desc, flip_bits(b, bits)});
  }
  std::uniform_int_distribution<size_t> pos(begin, b.size() - 1);
  for (size_t i = 0; i < zero_runs; ++i) {
    const size_t at = pos(rng);
    const size_t len = std::min<size_t>(1 + rng() % 64, b.size() - at);
    std::string m = b;
    std::fill(m.begin() + static_cast<std::ptrdiff_t>(at), m.begin() + static_cast<std::ptrdiff_t>(at + len), '\0');
    out.push_back({"zero " + std::to_string(len) + " bytes at " + std::to_string(at), std::move(m)});
  }
  return out;
}

// Offsets at which to cut a file: the first bytes one by one, the preamble's edges, the given
// landmarks (section boundaries) and their neighbours, and a stride through the rest.
std::vector<size_t> cut_points(size_t size, const std::vector<size_t>& landmarks, size_t stride_count) {
  std::set<size_t> cuts;
  for (size_t i = 0; i <= std::min<size_t>(size, 16); ++i) cuts.insert(i);
  for (size_t c : {size_t{63}, size_t{64}, size_t{65}, size_t{72}, size_t{79}, size_t{80}, size_t{81}}) cuts.insert(c);
  for (size_t l : landmarks) {
    for (size_t d : {l - 1, l, l + 1}) cuts.insert(d);
  }
  const size_t stride = std::max<size_t>(1, size / std::max<size_t>(1, stride_count));
  for (size_t c = 0; c < size; c += stride) cuts.insert(c);
  cuts.insert(size / 2);
  cuts.insert(size - 1);
  std::vector<size_t> out;
  for (size_t c : cuts) {
    if (c < size) out.push_back(c);
  }
  return out;
}

// --- engines built from the source models ---------------------------------------------------------

struct BuiltModel {
  std::string path;  // relative to the source dir
  std::string onnx;
  std::string engine;
};

const std::vector<BuiltModel>& built_models() {
  static const std::vector<BuiltModel> built = [] {
    std::vector<BuiltModel> out;
    Builder builder(quiet_config());
    for (const std::string& rel : source_models()) {
      BuiltModel m;
      m.path = rel;
      m.onnx = read_bytes(kSourceDir / rel);
      auto e = builder.build_from_bytes(m.onnx, (kSourceDir / rel).string());
      if (!e.ok()) {
        ADD_FAILURE() << rel << ": " << e.status().message();
        continue;
      }
      auto bytes = e->serialize();
      if (!bytes.ok()) {
        ADD_FAILURE() << rel << ": " << bytes.status().message();
        continue;
      }
      m.engine = *bytes;
      out.push_back(std::move(m));
    }
    return out;
  }();
  return built;
}

struct Sections {
  uint64_t header_offset, header_size, graph_offset, graph_size, blob_offset, blob_size;
};

Sections sections_of(const std::string& engine) {
  uint64_t v[6];
  std::memcpy(v, engine.data() + 16, sizeof v);
  return Sections{v[0], v[1], v[2], v[3], v[4], v[5]};
}

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("kiln-malformed-" + std::to_string(rd()) + std::to_string(::getpid()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// ================================================================================================
// ONNX models
// ================================================================================================

TEST(MalformedCorpus, OnnxTruncationsAreErrors) {
  Builder builder(quiet_config());
  size_t checked = 0;
  for (const BuiltModel& m : built_models()) {
    for (size_t cut : cut_points(m.onnx.size(), {}, 200)) {
      auto e = builder.build_from_bytes(truncate_at(m.onnx, cut), m.path);
      const std::string why = bad_error(e.ok() ? Status() : e.status(), kOnnxDamageCodes);
      EXPECT_EQ(why, "") << m.path << " truncated to " << cut << " of " << m.onnx.size() << " bytes";
      ++checked;
    }
  }
  EXPECT_GT(checked, 400u);
}

// A bit flip in an ONNX model can leave a valid model (a flipped weight, a renamed value): those
// may build. What may not happen is a crash, an error that is not a one-line value, or an engine
// that builds but does not save, load and (when small) run cleanly.
TEST(MalformedCorpus, OnnxBitFlipsNeverCrash) {
  size_t errors = 0, built = 0, ran = 0;
  uint64_t seed = 1;
  for (const BuiltModel& m : built_models()) {
    // SqueezeNet builds take milliseconds each (and much longer under ASan): fewer mutants there.
    const bool big = m.onnx.size() > 4096;
    const auto t0 = std::chrono::steady_clock::now();
    for (const Mutant& mu : seeded_mutants(m.onnx, seed++, 0, big ? 80 : 300, big ? 30 : 100, big ? 20 : 40)) {
      const auto t1 = std::chrono::steady_clock::now();
      const fuzz::OnnxOutcome o = fuzz::drive_onnx(mu.bytes, /*try_run=*/!big);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      if (secs > 1.0) std::printf("slow: %s: %s: %.1f s (%s)\n", m.path.c_str(), mu.what.c_str(), secs, o.build.message().c_str());
      if (!o.build.ok()) {
        ++errors;
        EXPECT_EQ(bad_error(o.build, kOnnxDamageCodes), "") << m.path << ": " << mu.what;
        continue;
      }
      ++built;
      EXPECT_TRUE(o.roundtrip.ok()) << m.path << ": " << mu.what << ": built, but " << o.roundtrip.message();
      if (o.ran) {
        ++ran;
        EXPECT_EQ(fuzz::status_problem(o.run), "") << m.path << ": " << mu.what;
      }
    }
    std::printf("%s: mutants in %.1f s\n", m.path.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("onnx mutants: %zu errors, %zu built, %zu of those ran\n", errors, built, ran);
  EXPECT_GT(errors, 100u);
}

// --- hand-made models ---------------------------------------------------------------------------

onnx::ValueInfoProto tensor_info(const std::string& name, int elem_type, const std::vector<std::string>& dims) {
  onnx::ValueInfoProto vi;
  vi.set_name(name);
  auto* tt = vi.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (const std::string& d : dims) {
    auto* dim = shape->add_dim();
    if (!d.empty() && (std::isdigit(static_cast<unsigned char>(d[0])) != 0)) dim->set_dim_value(std::stoll(d));
    else dim->set_dim_param(d);
  }
  return vi;
}

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& ins,
                          const std::vector<std::string>& outs, const std::string& name = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op + "_" + std::to_string(g->node_size()) : name);
  for (const auto& i : ins) n->add_input(i);
  for (const auto& o : outs) n->add_output(o);
  return n;
}

// x, y: float[2x3] -> Add -> z: a valid model the cases below damage one way each.
onnx::ModelProto add_model() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("kiln-malformed-test");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("g");
  *g->add_input() = tensor_info("x", onnx::TensorProto::FLOAT, {"2", "3"});
  *g->add_input() = tensor_info("y", onnx::TensorProto::FLOAT, {"2", "3"});
  add_node(g, "Add", {"x", "y"}, {"z"}, "add");
  *g->add_output() = tensor_info("z", onnx::TensorProto::FLOAT, {"2", "3"});
  return m;
}

std::string bytes_of(const onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

onnx::TensorProto float_initializer(const std::string& name, const std::vector<int64_t>& dims) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) {
    t.add_dims(d);
    n *= d;
  }
  for (int64_t i = 0; i < n; ++i) t.add_float_data(1.0f);
  return t;
}

// A Loop whose body is given; the main graph feeds it trip count 2 and cond true.
onnx::ModelProto loop_model(const std::function<void(onnx::GraphProto*)>& fill_body) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("main");
  *g->add_input() = tensor_info("v", onnx::TensorProto::FLOAT, {"1"});
  onnx::TensorProto m_trip;
  m_trip.set_name("M");
  m_trip.set_data_type(onnx::TensorProto::INT64);
  m_trip.add_int64_data(2);
  *g->add_initializer() = m_trip;
  onnx::TensorProto cond;
  cond.set_name("cond");
  cond.set_data_type(onnx::TensorProto::BOOL);
  cond.add_int32_data(1);
  *g->add_initializer() = cond;
  auto* loop = add_node(g, "Loop", {"M", "cond", "v"}, {"v_out"}, "loop");
  auto* a = loop->add_attribute();
  a->set_name("body");
  a->set_type(onnx::AttributeProto::GRAPH);
  auto* body = a->mutable_g();
  body->set_name("body");
  *body->add_input() = tensor_info("i", onnx::TensorProto::INT64, {});
  *body->add_input() = tensor_info("c_in", onnx::TensorProto::BOOL, {});
  *body->add_input() = tensor_info("v_in", onnx::TensorProto::FLOAT, {"1"});
  fill_body(body);
  *g->add_output() = tensor_info("v_out", onnx::TensorProto::FLOAT, {"1"});
  return m;
}

struct HandMade {
  std::string name;
  std::string bytes;
  std::set<StatusCode> codes;
  std::string must_mention;  // the fault, as the message should name it
};

std::vector<HandMade> hand_made_models() {
  std::vector<HandMade> cases;
  const std::set<StatusCode> unsupported_code = {StatusCode::kUnsupported};
  const std::set<StatusCode> invalid = {StatusCode::kInvalidArgument};
  const std::set<StatusCode> corrupt_code = {StatusCode::kCorrupt};
  const std::set<StatusCode> invalid_or_corrupt = {StatusCode::kInvalidArgument, StatusCode::kCorrupt};
  {
    auto m = add_model();
    m.mutable_graph()->mutable_node(0)->set_op_type("FrobnicateXYZ");
    cases.push_back({"unknown op", bytes_of(m), unsupported_code, "FrobnicateXYZ"});
  }
  {
    auto m = add_model();
    auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("weird");
    a->set_type(static_cast<onnx::AttributeProto::AttributeType>(77));
    cases.push_back({"attribute of unknown type", bytes_of(m), invalid, "weird"});
  }
  {
    auto m = add_model();
    m.mutable_graph()->mutable_node(0)->set_input(1, "nowhere");
    cases.push_back({"input referenced but undefined", bytes_of(m), invalid, "nowhere"});
  }
  {
    auto m = add_model();
    add_node(m.mutable_graph(), "Sub", {"x", "y"}, {"z"}, "sub");
    cases.push_back({"duplicate output name", bytes_of(m), invalid, "'z'"});
  }
  {
    auto m = add_model();
    m.set_ir_version(99);
    cases.push_back({"IR version 99", bytes_of(m), unsupported_code, "99"});
  }
  {
    auto m = add_model();
    m.mutable_opset_import(0)->set_version(99);
    cases.push_back({"opset 99", bytes_of(m), unsupported_code, "99"});
  }
  {
    auto m = add_model();
    auto* op = m.add_opset_import();
    op->set_domain("com.example.custom");
    op->set_version(1);
    m.mutable_graph()->mutable_node(0)->set_domain("com.example.custom");
    cases.push_back({"non-ai.onnx domain", bytes_of(m), unsupported_code, "com.example.custom"});
  }
  {
    auto m = add_model();
    auto t = float_initializer("y", {2, 3});
    t.set_dims(1, -3);
    t.clear_float_data();
    m.mutable_graph()->mutable_input()->RemoveLast();
    *m.mutable_graph()->add_initializer() = t;
    cases.push_back({"negative dim in an initializer", bytes_of(m), invalid, "-3"});
  }
  {
    auto m = add_model();
    onnx::TensorProto t;
    t.set_name("y");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(2);
    t.add_dims(3);
    t.set_raw_data(std::string(23, '\x01'));  // 6 floats need 24 bytes
    m.mutable_graph()->mutable_input()->RemoveLast();
    *m.mutable_graph()->add_initializer() = t;
    cases.push_back({"raw_data size mismatch", bytes_of(m), corrupt_code, "raw_data"});
  }
  {
    // A tensor claiming 2^40 floats with no data: must be refused before any allocation.
    auto m = add_model();
    onnx::TensorProto t;
    t.set_name("y");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(int64_t{1} << 20);
    t.add_dims(int64_t{1} << 20);
    m.mutable_graph()->mutable_input()->RemoveLast();
    *m.mutable_graph()->add_initializer() = t;
    // kCorrupt ("has 0 values"), not kOutOfMemory: the count is checked before allocating.
    cases.push_back({"huge initializer without data", bytes_of(m), corrupt_code, "has 0 values"});
  }
  {
    auto m = add_model();
    onnx::TensorProto t;
    t.set_name("y");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(2);
    t.add_dims(3);
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t.add_external_data();
    kv->set_key("location");
    kv->set_value("../../etc/passwd");
    m.mutable_graph()->mutable_input()->RemoveLast();
    *m.mutable_graph()->add_initializer() = t;
    cases.push_back({"external data path escaping with ..", bytes_of(m), invalid, "../../etc/passwd"});
  }
  {
    auto m = add_model();
    auto* g = m.mutable_graph();
    g->mutable_node(0)->set_input(1, "b");
    add_node(g, "Relu", {"z"}, {"b"}, "relu");  // z = x + b, b = relu(z): a cycle
    cases.push_back({"a cycle", bytes_of(m), invalid_or_corrupt, "cycle"});
  }
  {
    auto m = add_model();
    *m.mutable_graph()->add_output() = tensor_info("never", onnx::TensorProto::FLOAT, {"2", "3"});
    cases.push_back({"graph output never produced", bytes_of(m), invalid, "never"});
  }
  {
    auto m = loop_model([](onnx::GraphProto* body) {
      add_node(body, "Identity", {"c_in"}, {"c_out"});
      add_node(body, "Add", {"v_in", "no_such_outer_value"}, {"v_next"});
      *body->add_output() = tensor_info("c_out", onnx::TensorProto::BOOL, {});
      *body->add_output() = tensor_info("v_next", onnx::TensorProto::FLOAT, {"1"});
    });
    cases.push_back({"Loop body referencing a missing name", bytes_of(m), invalid, "no_such_outer_value"});
  }
  {
    auto m = add_model();
    m.clear_graph();
    cases.push_back({"no graph", bytes_of(m), invalid, "graph"});
  }
  {
    // Names are echoed in messages; a newline in one (a bit flip can make one) must not split the
    // message over lines.
    auto m = add_model();
    m.mutable_graph()->mutable_node(0)->set_input(1, "y\nsecond line");
    m.mutable_graph()->mutable_input(1)->set_name("y\nsecond line");
    cases.push_back({"newline in a value name", bytes_of(m), invalid, "control character"});
    auto m2 = add_model();
    m2.mutable_graph()->mutable_node(0)->set_op_type("Ad\x1b[2Jd");
    cases.push_back({"escape sequence in an op type", bytes_of(m2), invalid, "\\x1b"});
  }
  cases.push_back({"empty file", "", invalid, "graph"});
  cases.push_back({"not protobuf", "this is not an onnx model, just text\n", {StatusCode::kCorrupt}, "not a valid ONNX model"});
  {
    auto m = add_model();
    m.mutable_graph()->mutable_node(0)->add_input("x");  // Add takes 2
    cases.push_back({"too many inputs", bytes_of(m), invalid, "inputs"});
  }
  {
    auto m = add_model();
    m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::STRING);
    cases.push_back({"string input", bytes_of(m), {StatusCode::kUnsupported, StatusCode::kInvalidArgument}, "'x'"});
  }
  {
    auto m = add_model();
    m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(1234);
    cases.push_back({"undefined dtype", bytes_of(m), {StatusCode::kUnsupported, StatusCode::kInvalidArgument}, "'x'"});
  }
  {
    auto m = add_model();
    auto t = float_initializer("k", {2});
    t.set_data_type(0);
    *m.mutable_graph()->add_initializer() = t;
    cases.push_back({"initializer without data_type", bytes_of(m), invalid, "'k'"});
  }
  {
    auto m = add_model();
    *m.mutable_graph()->add_initializer() = float_initializer("y", {2, 3});
    *m.mutable_graph()->add_initializer() = float_initializer("y", {2, 3});
    cases.push_back({"initializer defined twice", bytes_of(m), invalid, "'y'"});
  }
  return cases;
}

// Conv with its `strides` attribute given as a string.
std::string conv_with_string_strides() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  *g->add_input() = tensor_info("x", onnx::TensorProto::FLOAT, {"1", "1", "5", "5"});
  *g->add_input() = tensor_info("w", onnx::TensorProto::FLOAT, {"1", "1", "3", "3"});
  auto* n = add_node(g, "Conv", {"x", "w"}, {"y"}, "conv");
  auto* a = n->add_attribute();
  a->set_name("strides");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s("two");
  *g->add_output() = tensor_info("y", onnx::TensorProto::FLOAT, {});
  return bytes_of(m);
}

// KNOWN BUG (not fixed here; see the report): an attribute of the wrong kind for its op is
// silently replaced by the op's default (Attributes::get_ints returns the default on a kind
// mismatch, src/ir/attribute.h), although that header says the importer checks kinds against the
// schema: OpSchema declares no attribute kinds and import_graph does not check them. So this
// model builds and runs as a stride-1 Conv. Enable when op schemas declare attribute kinds.
TEST(MalformedCorpus, AttributeOfTheWrongKindIsAnError) {
  auto e = Builder(quiet_config()).build_from_bytes(conv_with_string_strides(), "handmade.onnx");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(bad_error(e.status(), {StatusCode::kInvalidArgument, StatusCode::kUnsupported}), "");
  EXPECT_NE(e.status().message().find("strides"), std::string::npos) << e.status().message();
}

// ConstantOfShape asking for 2^60 elements: a valid model that cannot run. The build must not try
// to evaluate it ahead of time (it once filled gigabytes doing so: executor.cpp evaluate_node);
// the run must refuse the allocation with a one-line error.
TEST(MalformedCorpus, HugeConstantOfShapeBuildsButRefusesToRun) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  onnx::TensorProto shape;
  shape.set_name("shape");
  shape.set_data_type(onnx::TensorProto::INT64);
  shape.add_dims(2);
  shape.add_int64_data(int64_t{1} << 30);
  shape.add_int64_data(int64_t{1} << 30);
  *g->add_initializer() = shape;
  add_node(g, "ConstantOfShape", {"shape"}, {"big"}, "cos");
  *g->add_output() = tensor_info("big", onnx::TensorProto::FLOAT, {});
  auto e = Builder(quiet_config()).build_from_bytes(bytes_of(m), "huge.onnx");
  if (!e.ok()) {
    EXPECT_EQ(bad_error(e.status(), {StatusCode::kOutOfMemory, StatusCode::kInvalidArgument, StatusCode::kUnsupported}), "");
    return;
  }
  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  NamedTensors out;
  const Status s = (*ctx)->run({}, &out);
  EXPECT_EQ(bad_error(s, {StatusCode::kOutOfMemory}), "");
}

TEST(MalformedCorpus, HandMadeOnnxModels) {
  Builder builder(quiet_config());
  for (const HandMade& c : hand_made_models()) {
    SCOPED_TRACE(c.name);
    auto e = builder.build_from_bytes(c.bytes, "handmade.onnx");
    const Status s = e.ok() ? Status() : e.status();
    EXPECT_EQ(bad_error(s, c.codes), "") << c.name;
    if (!s.ok() && !c.must_mention.empty()) {
      EXPECT_NE(s.message().find(c.must_mention), std::string::npos) << c.name << ": " << s.message();
    }
  }
}

// External data paths are only resolved for models loaded from files: check the '..' escape there.
TEST(MalformedCorpus, ExternalDataEscapingTheModelDirectory) {
  TempDir dir;
  fs::create_directories(dir.path() / "model");
  write_bytes(dir.path() / "secret.bin", std::string(24, '\x01'));
  for (const char* location : {"../secret.bin", "sub/../../secret.bin", "/etc/passwd"}) {
    SCOPED_TRACE(location);
    auto m = add_model();
    onnx::TensorProto t;
    t.set_name("y");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(2);
    t.add_dims(3);
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t.add_external_data();
    kv->set_key("location");
    kv->set_value(location);
    m.mutable_graph()->mutable_input()->RemoveLast();
    *m.mutable_graph()->add_initializer() = t;
    const fs::path p = dir.path() / "model" / "m.onnx";
    write_bytes(p, bytes_of(m));
    auto e = Builder(quiet_config()).build_from_file(p.string());
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.status().message();
    EXPECT_NE(e.status().message().find("leaves the model's directory"), std::string::npos) << e.status().message();
  }
  // A missing external file and one too short are errors too.
  for (const auto& [location, code] : std::vector<std::pair<std::string, StatusCode>>{
           {"absent.bin", StatusCode::kNotFound}, {"short.bin", StatusCode::kCorrupt}}) {
    write_bytes(dir.path() / "model" / "short.bin", std::string(5, '\x01'));
    auto m = add_model();
    onnx::TensorProto t;
    t.set_name("y");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(2);
    t.add_dims(3);
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t.add_external_data();
    kv->set_key("location");
    kv->set_value(location);
    m.mutable_graph()->mutable_input()->RemoveLast();
    *m.mutable_graph()->add_initializer() = t;
    const fs::path p = dir.path() / "model" / "m.onnx";
    write_bytes(p, bytes_of(m));
    auto e = Builder(quiet_config()).build_from_file(p.string());
    ASSERT_FALSE(e.ok()) << location;
    EXPECT_EQ(e.status().code(), code) << e.status().message();
    EXPECT_EQ(bad_error(e.status(), {code}), "");
  }
}

// ================================================================================================
// Engine files
// ================================================================================================

TEST(MalformedCorpus, EngineTruncationsAreErrors) {
  TempDir dir;
  size_t checked = 0;
  for (const BuiltModel& m : built_models()) {
    const Sections s = sections_of(m.engine);
    const std::vector<size_t> landmarks = {
        s.header_offset + s.header_size / 2, s.header_offset + s.header_size,        // mid and end of header
        s.graph_offset + s.graph_size / 2,   s.graph_offset + s.graph_size,          // mid and end of graph
        s.blob_offset,                       s.blob_offset + s.blob_size / 2,        // blob start, mid-blob
    };
    const std::vector<size_t> cuts = cut_points(m.engine.size(), landmarks, 150);
    for (size_t i = 0; i < cuts.size(); ++i) {
      const std::string t = truncate_at(m.engine, cuts[i]);
      auto e = Engine::load_from_memory(t);
      const Status st = e.ok() ? Status() : e.status();
      EXPECT_EQ(bad_error(st, {StatusCode::kCorrupt, StatusCode::kInvalidArgument}), "")
          << m.path << " engine truncated to " << cuts[i] << " of " << m.engine.size();
      // Through the file path (mmap) too, for every fourth cut.
      if (i % 4 == 0) {
        const fs::path p = dir.path() / "t.kiln";
        write_bytes(p, t);
        auto f = Engine::load(p.string());
        const Status fs = f.ok() ? Status() : f.status();
        EXPECT_EQ(bad_error(fs, {StatusCode::kCorrupt, StatusCode::kInvalidArgument}), "")
            << m.path << " engine file truncated to " << cuts[i];
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 300u);
}

// Flips after the preamble: the checksum catches every one. Flips in the preamble (which the
// checksum does not cover): magic, version, sizes, offsets and the checksum field itself are all
// checked, so each flip there is an error too; only the 8 reserved bytes (72..79) are ignored by
// the format, and a flip there loads cleanly.
TEST(MalformedCorpus, EngineBitFlipsAreErrors) {
  uint64_t seed = 100;
  size_t flips = 0;
  for (const BuiltModel& m : built_models()) {
    for (size_t bit = 0; bit < fuzz::kPreambleSize * 8; ++bit) {
      auto e = Engine::load_from_memory(flip_bits(m.engine, {bit}));
      if (bit / 8 >= 72) {
        EXPECT_TRUE(e.ok()) << m.path << ": reserved bit " << bit << ": " << e.status().message();
        continue;
      }
      const Status st = e.ok() ? Status() : e.status();
      EXPECT_EQ(bad_error(st, kDamageCodes), "") << m.path << ": preamble bit " << bit;
      ++flips;
    }
    for (const Mutant& mu : seeded_mutants(m.engine, seed++, fuzz::kPreambleSize, 300, 100, 60)) {
      if (mu.bytes == m.engine) continue;  // a zero run over bytes that were zero already
      auto e = Engine::load_from_memory(mu.bytes);
      ASSERT_FALSE(e.ok()) << m.path << ": " << mu.what;
      EXPECT_EQ(e.status().code(), StatusCode::kCorrupt) << m.path << ": " << mu.what << ": " << e.status().message();
      EXPECT_NE(e.status().message().find("checksum"), std::string::npos) << e.status().message();
      EXPECT_EQ(bad_error(e.status(), {StatusCode::kCorrupt}), "");
      ++flips;
    }
  }
  EXPECT_GT(flips, 3000u);
}

// Behind the checksum: mutate the header JSON, graph CBOR and weights, then recompute the checksum
// (as a buggy writer or a deliberate edit would), so the parsers themselves see damaged input.
// A flip inside a weight or a string may still load; nothing may crash or give a bad error.
TEST(MalformedCorpus, EngineDamageBehindTheChecksum) {
  uint64_t seed = 500;
  size_t errors = 0, loaded = 0;
  for (const BuiltModel& m : built_models()) {
    const Sections s = sections_of(m.engine);
    std::vector<Mutant> mutants = seeded_mutants(m.engine, seed++, fuzz::kPreambleSize, 300, 100, 60);
    // Truncations of the graph section with the section table kept consistent are covered by
    // the fuzzer; here, cut the CBOR and JSON at a stride while keeping their sizes.
    for (size_t cut = s.graph_offset; cut < s.graph_offset + s.graph_size; cut += std::max<uint64_t>(1, s.graph_size / 50)) {
      std::string b = m.engine;
      std::fill(b.begin() + static_cast<std::ptrdiff_t>(cut),
                b.begin() + static_cast<std::ptrdiff_t>(s.graph_offset + s.graph_size), '\xff');
      mutants.push_back({"graph 0xff from " + std::to_string(cut), b});
    }
    for (const Mutant& mu : mutants) {
      const fuzz::EngineOutcome o = fuzz::drive_engine(fuzz::with_valid_checksum(mu.bytes));
      if (!o.load.ok()) {
        ++errors;
        EXPECT_EQ(bad_error(o.load, kDamageCodes), "") << m.path << ": " << mu.what;
      } else {
        ++loaded;
        if (o.ran) {
          EXPECT_EQ(fuzz::status_problem(o.run), "") << m.path << ": " << mu.what;
        }
      }
    }
  }
  std::printf("engine mutants behind the checksum: %zu errors, %zu loaded\n", errors, loaded);
  EXPECT_GT(errors, 100u);
}

TEST(MalformedCorpus, EngineOfAnotherFormatVersionIsIncompatible) {
  const BuiltModel& m = built_models().at(1);
  std::string b = m.engine;
  const uint32_t v = 99;  // a format from the future
  std::memcpy(b.data() + 8, &v, 4);
  auto e = Engine::load_from_memory(b);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kIncompatible);
  EXPECT_NE(e.status().message().find("version 99"), std::string::npos) << e.status().message();
}

TEST(MalformedCorpus, EngineFileThatIsNotAFile) {
  TempDir dir;
  for (const fs::path& p : {dir.path() / "absent.kiln", dir.path()}) {
    auto e = Engine::load(p.string());
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(bad_error(e.status(), {StatusCode::kNotFound, StatusCode::kInvalidArgument}), "") << p;
  }
  write_bytes(dir.path() / "empty.kiln", "");
  auto e = Engine::load((dir.path() / "empty.kiln").string());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
}

// ================================================================================================
// Runtime misuse
// ================================================================================================

Tensor filled(DataType dt, Dims dims) {
  auto t = Tensor::allocate(dt, std::move(dims));
  EXPECT_TRUE(t.ok());
  return std::move(*t);
}

TEST(MalformedCorpus, RuntimeMisuseNamesTheInputAndShape) {
  // test_add: x, y float32[3x4x5].
  auto engine = Engine::load_from_memory(built_models().at(1).engine);
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  ASSERT_EQ(engine->inputs().size(), 2u);
  auto ctx = engine->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  const Tensor good = filled(DataType::kFloat32, {3, 4, 5});
  NamedTensors out;
  ASSERT_TRUE((*ctx)->run({{"x", good}, {"y", good}}, &out).ok());

  struct Case {
    std::string name;
    NamedTensors inputs;
    std::vector<std::string> must_mention;
  };
  const std::vector<Case> cases = {
      {"wrong dtype", {{"x", filled(DataType::kInt32, {3, 4, 5})}, {"y", good}}, {"'x'", "int32", "float32"}},
      {"wrong rank", {{"x", filled(DataType::kFloat32, {3, 4})}, {"y", good}}, {"'x'", "3x4x5", "rank"}},
      {"wrong dim", {{"x", good}, {"y", filled(DataType::kFloat32, {3, 4, 6})}}, {"'y'", "3x4x5", "dim 2"}},
      {"missing input", {{"x", good}}, {"missing", "'y'", "3x4x5"}},
      {"no inputs", {}, {"missing", "'x'", "3x4x5"}},
      {"unknown input", {{"x", good}, {"y", good}, {"zz", good}}, {"unknown", "'zz'", "x, y"}},
      {"no data", {{"x", Tensor::wrap(DataType::kFloat32, {3, 4, 5}, nullptr)}, {"y", good}}, {"'x'", "no data"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    NamedTensors o;
    const Status s = (*ctx)->run(c.inputs, &o);
    EXPECT_EQ(bad_error(s, {StatusCode::kInvalidArgument}), "");
    for (const std::string& word : c.must_mention) EXPECT_NE(s.message().find(word), std::string::npos) << s.message();
  }
  const Status s = (*ctx)->run({{"x", good}, {"y", good}}, nullptr);
  EXPECT_EQ(bad_error(s, {StatusCode::kInvalidArgument}), "");
  // The context still works after all that.
  EXPECT_TRUE((*ctx)->run({{"x", good}, {"y", good}}, &out).ok());
}

TEST(MalformedCorpus, RuntimeSymbolicDimsMustAgree) {
  auto m = add_model();
  *m.mutable_graph()->mutable_input(0) = tensor_info("x", onnx::TensorProto::FLOAT, {"N", "3"});
  *m.mutable_graph()->mutable_input(1) = tensor_info("y", onnx::TensorProto::FLOAT, {"N", "3"});
  *m.mutable_graph()->mutable_output(0) = tensor_info("z", onnx::TensorProto::FLOAT, {"N", "3"});
  BuilderConfig config = quiet_config();
  config.profile.push_back(InputRange{.input = "x", .min = {1, 3}, .opt = {2, 3}, .max = {4, 3}});
  auto engine = Builder(config).build_from_bytes(bytes_of(m), "symbolic.onnx");
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  auto ctx = engine->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  NamedTensors out;
  ASSERT_TRUE((*ctx)->run({{"x", filled(DataType::kFloat32, {2, 3})}, {"y", filled(DataType::kFloat32, {2, 3})}}, &out).ok());

  Status s = (*ctx)->run({{"x", filled(DataType::kFloat32, {2, 3})}, {"y", filled(DataType::kFloat32, {3, 3})}}, &out);
  EXPECT_EQ(bad_error(s, {StatusCode::kInvalidArgument}), "");
  for (const char* word : {"'y'", "'N'", "3", "2"}) EXPECT_NE(s.message().find(word), std::string::npos) << s.message();

  s = (*ctx)->run({{"x", filled(DataType::kFloat32, {8, 3})}, {"y", filled(DataType::kFloat32, {8, 3})}}, &out);
  EXPECT_EQ(bad_error(s, {StatusCode::kInvalidArgument}), "");
  for (const char* word : {"'x'", "profile", "8x3"}) EXPECT_NE(s.message().find(word), std::string::npos) << s.message();
}

// ================================================================================================
// Fuzzer regressions
// ================================================================================================

TEST(MalformedCorpus, FuzzerRegressionsReplay) {
  const fs::path dir = kSourceDir / "tests/malformed/regressions";
  if (!fs::exists(dir)) GTEST_SKIP() << "no regressions directory";
  size_t replayed = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    const std::string bytes = read_bytes(entry.path());
    SCOPED_TRACE(name);
    if (name.rfind("onnx_", 0) == 0) {
      const fuzz::OnnxOutcome o = fuzz::drive_onnx(bytes);
      EXPECT_EQ(fuzz::status_problem(o.build), "");
      EXPECT_TRUE(o.roundtrip.ok()) << o.roundtrip.message();
      if (o.ran) {
        EXPECT_EQ(fuzz::status_problem(o.run), "");
      }
      ++replayed;
    } else if (name.rfind("engine_", 0) == 0) {
      for (const std::string& b : {bytes, fuzz::with_valid_checksum(bytes)}) {
        const fuzz::EngineOutcome o = fuzz::drive_engine(b);
        EXPECT_EQ(fuzz::status_problem(o.load), "");
        if (o.ran) {
          EXPECT_EQ(fuzz::status_problem(o.run), "");
        }
      }
      ++replayed;
    }
  }
  std::printf("replayed %zu fuzzer regressions\n", replayed);
}

}  // namespace
}  // namespace kiln
