#include "json_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace sluice {
namespace {

TEST(JsonWriter, NestedContainersGetCommas) {
  JsonWriter w;
  w.begin_object();
  w.key("version").value(uint64_t{3});
  w.key("services").begin_array().value("a").value("b").end_array();
  w.key("empty").begin_object().end_object();
  w.key("none").begin_array().end_array();
  w.key("list").begin_array();
  w.begin_object().key("x").value(1).end_object();
  w.begin_object().key("x").value(2).key("y").null().end_object();
  w.end_array();
  w.end_object();
  EXPECT_EQ(w.str(), R"({"version":3,"services":["a","b"],"empty":{},"none":[],)"
                     R"("list":[{"x":1},{"x":2,"y":null}]})");
}

TEST(JsonWriter, Scalars) {
  JsonWriter w;
  w.begin_array();
  w.value(true).value(false).null();
  w.value(-7)
      .value(std::numeric_limits<int64_t>::min())
      .value(std::numeric_limits<uint64_t>::max());
  w.value(uint8_t{200}).value(short{-3});
  w.value(1.5).value(-0.25).value(1e300).value(3.0);
  w.end_array();
  EXPECT_EQ(w.str(),
            "[true,false,null,-7,-9223372036854775808,18446744073709551615,200,-3,"
            "1.5,-0.25,1e+300,3]");
}

TEST(JsonWriter, NonFiniteDoublesAreNull) {
  JsonWriter w;
  w.begin_array();
  w.value(std::numeric_limits<double>::quiet_NaN());
  w.value(std::numeric_limits<double>::infinity());
  w.value(-std::numeric_limits<double>::infinity());
  w.end_array();
  EXPECT_EQ(w.str(), "[null,null,null]");
}

TEST(JsonWriter, StringLiteralIsAStringNotABool) {
  JsonWriter w;
  w.begin_object().key("k").value("v").key("s").value(std::string("w")).end_object();
  EXPECT_EQ(w.str(), R"({"k":"v","s":"w"})");
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonWriter::escape("a\"b\\c/d"), R"("a\"b\\c/d")");
  EXPECT_EQ(JsonWriter::escape("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(JsonWriter::escape(std::string("\x00\x01\x1f\x7f", 4)),
            "\"\\u0000\\u0001\\u001f\x7f\"");
  // UTF-8 passes through unchanged.
  EXPECT_EQ(JsonWriter::escape("caf\xc3\xa9 \xe2\x86\x92"), "\"caf\xc3\xa9 \xe2\x86\x92\"");
}

TEST(JsonWriter, KeysAreEscapedToo) {
  JsonWriter w;
  w.begin_object().key("a\"\n").value(1).end_object();
  EXPECT_EQ(w.str(), R"({"a\"\n":1})");
}

TEST(JsonWriter, RawValueIsInsertedAsIs) {
  JsonWriter w;
  w.begin_object().key("dump").raw(R"({"a":[1,2]})").key("n").value(0).end_object();
  EXPECT_EQ(w.str(), R"({"dump":{"a":[1,2]},"n":0})");
}

TEST(JsonWriter, TopLevelScalarAndMovedOutString) {
  JsonWriter w;
  w.value("only");
  std::string s = std::move(w).str();
  EXPECT_EQ(s, R"("only")");
}

}  // namespace
}  // namespace sluice
