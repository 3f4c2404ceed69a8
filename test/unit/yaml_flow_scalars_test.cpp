// YAML 1.2 plain scalars in flow collections, as Kubernetes' parser reads
// them: `[1.2.3.4, 2001:db8::]` is two addresses (libyaml alone rejects it).
#include <gtest/gtest.h>

#include "yaml_document.h"

using namespace sluice::config;

namespace {

std::vector<std::string> items(const YamlView& seq) {
  std::vector<std::string> out;
  for (size_t i = 0; i < seq.size(); ++i) out.push_back(seq.item(i).str());
  return out;
}

TEST(YamlFlowScalars, ColonBeforeTheEndOfAFlowSequence) {
  YamlStream s("addresses: [1.2.3.4, 2001:db8::]\n");
  ASSERT_EQ(s.error(), "");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(items(s.root(0)["addresses"]), (std::vector<std::string>{"1.2.3.4", "2001:db8::"}));
}

TEST(YamlFlowScalars, ColonBeforeACommaAndInAFlowMapping) {
  YamlStream s("a: [fe80::, '::1', \"x\"]\nb: {net: 2001:db8::, n: 1}\n");
  ASSERT_EQ(s.error(), "");
  EXPECT_EQ(items(s.root(0)["a"]), (std::vector<std::string>{"fe80::", "::1", "x"}));
  EXPECT_EQ(s.root(0)["b"]["net"].str(), "2001:db8::");
  // The other scalars keep their style: 1 stays a plain scalar (a number).
  EXPECT_TRUE(s.root(0)["b"]["n"].plain());
}

TEST(YamlFlowScalars, LinesStayTheSame) {
  YamlStream s("# é comment\nx: [é1, 2001:db8::]\ny:\n  - [a:, b]\nz: 3\n");
  ASSERT_EQ(s.error(), "");
  EXPECT_EQ(items(s.root(0)["x"]), (std::vector<std::string>{"é1", "2001:db8::"}));
  EXPECT_EQ(items(s.root(0)["y"].item(0)), (std::vector<std::string>{"a:", "b"}));
  EXPECT_EQ(s.root(0)["z"].line(), 5);
  EXPECT_EQ(s.root(0)["x"].item(1).line(), 2);
}

TEST(YamlFlowScalars, BlockScalarsAndCommentsAreUntouched) {
  const std::string text = "note: |\n  [a:]\nq: 'it''s [b:]' # [c:]\n";
  YamlStream s(text);
  ASSERT_EQ(s.error(), "");
  EXPECT_EQ(s.root(0)["note"].str(), "[a:]\n");
  EXPECT_EQ(s.root(0)["q"].str(), "it's [b:]");
}

TEST(YamlFlowScalars, OtherErrorsAreStillErrors) {
  YamlStream bad("x: [a, b\ny: 1\n");
  EXPECT_NE(bad.error(), "");
  YamlStream nested("x: [a:[b]]\n");  // "a:" then a nested sequence: not one scalar
  EXPECT_NE(nested.error(), "");
  YamlStream after("x: [2001:db8::]\ny: {a: b\n");
  EXPECT_NE(after.error(), "");
  EXPECT_EQ(after.error_line(), 3);
}

TEST(YamlFlowScalars, EmitKeepsQuoting) {
  YamlStream s("ports: [{port: 80, targetPort: \"8080\"}]\naddresses: [2001:db8::]\n");
  ASSERT_EQ(s.error(), "");
  const std::string out = s.root(0).emit();
  YamlStream again(out);
  ASSERT_EQ(again.error(), "") << out;
  EXPECT_TRUE(again.root(0)["ports"].item(0)["port"].plain()) << out;
  EXPECT_FALSE(again.root(0)["ports"].item(0)["targetPort"].plain()) << out;
  EXPECT_EQ(again.root(0)["addresses"].item(0).str(), "2001:db8::") << out;
}

}  // namespace
