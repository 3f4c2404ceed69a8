// peek_client_hello on real ClientHellos made by OpenSSL (TLS 1.2 and 1.3,
// with and without SNI), cut at every length, split across records,
// corrupted byte by byte; and sniHosts wildcard matching.
#include "tls_client_hello.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <random>
#include <string>

namespace sluice::proxy {
namespace {

using Status = ClientHelloPeek::Status;

// The first flight of an OpenSSL client: its ClientHello record(s).
std::string client_hello(const char* sni, int max_version = TLS1_3_VERSION) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  if (sni) SSL_set_tlsext_host_name(ssl, sni);
  SSL_set_connect_state(ssl);
  EXPECT_EQ(SSL_do_handshake(ssl), -1);  // waits for the server
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string bytes(data, static_cast<size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return bytes;
}

// The same handshake message re-cut into two records at `at` bytes.
std::string split_record(const std::string& hello, size_t at) {
  const std::string payload = hello.substr(5);
  auto record = [&](const std::string& p) {
    std::string r = hello.substr(0, 3);
    r.push_back(static_cast<char>(p.size() >> 8));
    r.push_back(static_cast<char>(p.size() & 0xff));
    return r + p;
  };
  return record(payload.substr(0, at)) + record(payload.substr(at));
}

TEST(ClientHelloPeek, FindsTheServerNameLowerCased) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    const ClientHelloPeek p = peek_client_hello(client_hello("API.Example.com", version));
    EXPECT_EQ(p.status, Status::kDone) << version;
    EXPECT_EQ(p.sni, "api.example.com") << version;
  }
}

TEST(ClientHelloPeek, AHelloWithoutAServerNameIsDoneWithNone) {
  const ClientHelloPeek p = peek_client_hello(client_hello(nullptr));
  EXPECT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.sni, "");
}

TEST(ClientHelloPeek, EveryPrefixAsksForMoreAndTrailingBytesDoNotMatter) {
  const std::string hello = client_hello("a.example.com");
  for (size_t n = 0; n < hello.size(); ++n) {
    ASSERT_EQ(peek_client_hello(hello.substr(0, n)).status, Status::kNeedMore) << n << " of " << hello.size();
  }
  const ClientHelloPeek p = peek_client_hello(hello + "early data that follows");
  EXPECT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.sni, "a.example.com");
}

TEST(ClientHelloPeek, AHelloSplitAcrossRecordsIsJoined) {
  const std::string hello = client_hello("split.example.com");
  for (size_t at : {size_t{1}, size_t{3}, size_t{4}, size_t{40}, hello.size() - 6}) {
    const std::string two = split_record(hello, at);
    for (size_t n = 0; n < two.size(); n += 7) {
      ASSERT_EQ(peek_client_hello(two.substr(0, n)).status, Status::kNeedMore) << "split at " << at << ", " << n;
    }
    const ClientHelloPeek p = peek_client_hello(two);
    EXPECT_EQ(p.status, Status::kDone) << "split at " << at;
    EXPECT_EQ(p.sni, "split.example.com");
  }
}

TEST(ClientHelloPeek, OtherProtocolsAreNotTls) {
  EXPECT_EQ(peek_client_hello("GET / HTTP/1.1\r\n").status, Status::kNotTls);
  EXPECT_EQ(peek_client_hello("SSH-2.0-OpenSSH_9.2\r\n").status, Status::kNotTls);
  // A TLS alert record, and a handshake record that is not a ClientHello.
  EXPECT_EQ(peek_client_hello(std::string("\x15\x03\x03\x00\x02\x02\x28", 7)).status, Status::kNotTls);
  EXPECT_EQ(peek_client_hello(std::string("\x16\x03\x01\x00\x04\x02\x00\x00\x00", 9)).status, Status::kNotTls);
  // An oversize record length.
  EXPECT_EQ(peek_client_hello(std::string("\x16\x03\x01\xff\xff", 5)).status, Status::kNotTls);
}

TEST(ClientHelloPeek, CorruptedHellosNeverReadOutOfBounds) {
  // Run under the sanitizers in CI-like builds; here: no crash, and a
  // verdict for every input.
  const std::string hello = client_hello("fuzz.example.com");
  std::mt19937 rng(7);
  for (size_t i = 0; i < hello.size(); ++i) {
    for (int k = 0; k < 4; ++k) {
      std::string bad = hello;
      bad[i] = static_cast<char>(rng());
      const ClientHelloPeek p = peek_client_hello(bad);
      if (p.status == Status::kDone) {
        EXPECT_LE(p.sni.size(), hello.size());
      }
    }
  }
  // Truncated lengths inside a whole record: a record that claims less.
  for (size_t cut = 6; cut < hello.size(); cut += 13) {
    std::string bad = hello.substr(0, cut);
    bad[3] = static_cast<char>((cut - 5) >> 8);
    bad[4] = static_cast<char>((cut - 5) & 0xff);
    const Status s = peek_client_hello(bad).status;
    EXPECT_TRUE(s == Status::kNeedMore || s == Status::kNotTls) << cut;
  }
}

TEST(SniMatches, ExactWildcardAndAny) {
  EXPECT_TRUE(sni_matches("a.example.com", "a.example.com"));
  EXPECT_TRUE(sni_matches("A.Example.com", "a.example.COM"));
  EXPECT_FALSE(sni_matches("a.example.com", "b.example.com"));
  // Istio: "*.com will match foo.example.com as well as example.com": any
  // depth under the wildcard's domain, but not the domain itself.
  EXPECT_TRUE(sni_matches("*.com", "example.com"));
  EXPECT_TRUE(sni_matches("*.com", "foo.example.com"));
  EXPECT_TRUE(sni_matches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(sni_matches("*.example.com", "example.com"));
  EXPECT_FALSE(sni_matches("*.example.com", "badexample.com"));
  EXPECT_FALSE(sni_matches("*.example.com", "example.org"));
  EXPECT_TRUE(sni_matches("*", "anything.io"));
  EXPECT_TRUE(sni_matches("*", ""));
  EXPECT_FALSE(sni_matches("a.example.com", ""));
  // The most specific pattern scores highest.
  EXPECT_GT(sni_match_score("a.example.com", "a.example.com"), sni_match_score("*.example.com", "a.example.com"));
  EXPECT_GT(sni_match_score("*.example.com", "a.example.com"), sni_match_score("*.com", "a.example.com"));
  EXPECT_GT(sni_match_score("*.com", "a.example.com"), sni_match_score("*", "a.example.com"));
}

TEST(ClientHelloPeek, SaysHowManyBytesItNeedsBeforeItCanDecide) {
  const std::string hello = client_hello("need.example.com");
  EXPECT_EQ(peek_client_hello(hello.substr(0, 3)).need, 5u) << "the record header";
  EXPECT_EQ(peek_client_hello(hello.substr(0, 9)).need, hello.size()) << "the whole record";
  // One byte that cannot start a handshake record is enough to decide.
  EXPECT_EQ(peek_client_hello("G").status, Status::kNotTls);
  EXPECT_EQ(peek_client_hello(std::string("\x16\x01", 2)).status, Status::kNotTls);
}

}  // namespace
}  // namespace sluice::proxy
