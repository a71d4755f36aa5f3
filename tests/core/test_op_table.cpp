// The op table (core/op_table.hpp): enums, names and the OpenCL constants agree, names are
// unique, and the generated defines number every code as its enum does.
#include <map>
#include <set>
#include <sstream>

#include "tapegrad/core/backend.hpp"
#include "test_util.hpp"

using namespace tg;

TEST_CASE("the op table numbers, names and OpenCL constants agree", "[op_table]") {
  // Parse "#define NAME VALUE" lines of the generated OpenCL prelude.
  std::map<std::string, int> defines;
  std::istringstream in(op_table_defines());
  std::string word, name;
  int value = 0;
  while (in >> word >> name >> value) {
    REQUIRE(word == "#define");
    CHECK(defines.emplace(name, value).second);  // each constant once
  }
  CHECK(defines.size() == static_cast<size_t>(kUnaryOpCount + kBinaryOpCount + kReduceOpCount));
  // Spot checks against the enumerators (the numbers the C++ side passes to the kernels).
  CHECK(defines.at("TG_UNARY_NEG") == static_cast<int>(UnaryOp::Neg));
  CHECK(defines.at("TG_UNARY_STEP") == static_cast<int>(UnaryOp::Step));
  CHECK(defines.at("TG_UNARY_CLIP") == static_cast<int>(UnaryOp::Clip));
  CHECK(defines.at("TG_BINARY_RELU_BACKWARD") == static_cast<int>(BinaryOp::ReluBackward));
  CHECK(defines.at("TG_BINARY_LOGICAL_OR") == static_cast<int>(BinaryOp::LogicalOr));
  CHECK(defines.at("TG_REDUCE_PROD") == static_cast<int>(ReduceOp::Prod));
  // Every code of a kind has a distinct name; the constants of a kind are 0..count-1.
  std::set<std::string> unary, binary, reduce;
  for (int i = 0; i < kUnaryOpCount; ++i)
    CHECK(unary.insert(std::string(unary_op_name(static_cast<UnaryOp>(i)))).second);
  for (int i = 0; i < kBinaryOpCount; ++i)
    CHECK(binary.insert(std::string(binary_op_name(static_cast<BinaryOp>(i)))).second);
  for (int i = 0; i < kReduceOpCount; ++i)
    CHECK(reduce.insert(std::string(reduce_op_name(static_cast<ReduceOp>(i)))).second);
  CHECK(unary_op_name(UnaryOp::GeluTanh) == "gelu_tanh");
  CHECK(binary_op_name(BinaryOp::ReluBackward) == "relu_backward");
  std::map<std::string, std::set<int>> per_kind;
  for (const auto& [n, v] : defines) per_kind[n.substr(0, n.find('_', 3))].insert(v);
  CHECK(per_kind["TG_UNARY"].size() == static_cast<size_t>(kUnaryOpCount));
  CHECK(*per_kind["TG_UNARY"].rbegin() == kUnaryOpCount - 1);
  CHECK(*per_kind["TG_BINARY"].rbegin() == kBinaryOpCount - 1);
  CHECK(*per_kind["TG_REDUCE"].rbegin() == kReduceOpCount - 1);
}
