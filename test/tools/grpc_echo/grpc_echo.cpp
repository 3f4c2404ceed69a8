// sluice-grpc-echo: the gRPC backend and client of the tests.
//
//   sluice-grpc-echo serve --listen IP:PORT --version V [--fail CODE]
//     Serves sluice.testing.Echo until SIGTERM/SIGINT. Prints "listening
//     PORT" once bound (PORT 0 picks one). --fail CODE answers every call
//     with that gRPC status (14: UNAVAILABLE), after counting it.
//     --log-calls 1 prints "call method=M authority=A messages=N bytes=B"
//     as each call ends (what a mirror received).
//     --tls-cert CHAIN.pem --tls-key KEY.pem: serves gRPC over TLS (ALPN
//     h2) instead of h2c; --tls-client-ca CA.pem also requires a client
//     certificate signed by that CA (mutual TLS).
//   sluice-grpc-echo call --target IP:PORT --method unary|stream|bidi|pingpong|upload
//       [--text T] [--count N] [--size BYTES] [--calls K] [--delay-ms D] [--deadline-ms X]
//       [--ca CA.pem --authority NAME] [--latency 1]
//     Makes K calls on one channel and prints, per call, one line:
//     "ok version=V replies=N text=T" or "status=CODE message=M". bidi sends
//     N messages, half-closes, then reads; pingpong sends each message after
//     the reply to the last; upload (client streaming) sends N messages of
//     BYTES each, and its line has replies=N text=<bytes the server read>.
//     --latency 1 (pingpong): also "rtt_us p50=P p99=Q n=N", each message's
//     round trip (write to reply read) in microseconds.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "echo_test.grpc.pb.h"

namespace {

using sluice::testing::Echo;
using sluice::testing::EchoReply;
using sluice::testing::EchoRequest;

class EchoService final : public Echo::Service {
 public:
  EchoService(std::string version, int fail, bool log_calls)
      : version_(std::move(version)), fail_(fail), log_calls_(log_calls) {}

  grpc::Status Unary(grpc::ServerContext* ctx, const EchoRequest* req, EchoReply* reply) override {
    log_call(ctx, "Unary", 1, req->text().size());
    if (auto st = prelude(*req); !st.ok()) return st;
    reply->set_text(req->text());
    reply->set_version(version_);
    return grpc::Status::OK;
  }

  grpc::Status ServerStream(grpc::ServerContext* ctx, const EchoRequest* req,
                            grpc::ServerWriter<EchoReply>* writer) override {
    if (auto st = prelude(*req); !st.ok()) return st;
    for (int i = 0; i < req->count() && !ctx->IsCancelled(); ++i) {
      EchoReply r;
      r.set_text(req->text());
      r.set_version(version_);
      r.set_index(i);
      if (!writer->Write(r)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status Upload(grpc::ServerContext* ctx, grpc::ServerReader<EchoRequest>* reader, EchoReply* reply) override {
    EchoRequest req;
    int count = 0;
    uint64_t bytes = 0;
    while (reader->Read(&req)) {
      if (auto st = prelude(req); !st.ok()) return st;
      ++count;
      bytes += req.text().size();
    }
    log_call(ctx, "Upload", count, bytes);
    reply->set_index(count);
    reply->set_text(std::to_string(bytes));
    reply->set_version(version_);
    return grpc::Status::OK;
  }

  grpc::Status Bidi(grpc::ServerContext*, grpc::ServerReaderWriter<EchoReply, EchoRequest>* stream) override {
    EchoRequest req;
    int i = 0;
    while (stream->Read(&req)) {
      if (auto st = prelude(req); !st.ok()) return st;
      EchoReply r;
      r.set_text(req.text());
      r.set_version(version_);
      r.set_index(i++);
      if (!stream->Write(r)) break;
    }
    return grpc::Status::OK;
  }

 private:
  void log_call(grpc::ServerContext* ctx, const char* method, int messages, uint64_t bytes) {
    if (!log_calls_) return;
    const grpc::string_ref authority = ctx->ExperimentalGetAuthority();
    static std::mutex mu;
    std::lock_guard lock(mu);
    std::cout << "call method=" << method << " authority=" << std::string(authority.data(), authority.size())
              << " messages=" << messages << " bytes=" << bytes << std::endl;
  }

  grpc::Status prelude(const EchoRequest& req) {
    if (req.delay_ms() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(req.delay_ms()));
    if (fail_ != 0) return grpc::Status(static_cast<grpc::StatusCode>(fail_), "failing on purpose (" + version_ + ")");
    return grpc::Status::OK;
  }

  const std::string version_;
  const int fail_;
  const bool log_calls_;
};

std::map<std::string, std::string> flags(int argc, char** argv) {
  std::map<std::string, std::string> f;
  for (int i = 2; i + 1 < argc; i += 2) f[argv[i]] = argv[i + 1];
  return f;
}

std::string flag(const std::map<std::string, std::string>& f, const std::string& name, const std::string& def) {
  auto it = f.find(name);
  return it == f.end() ? def : it->second;
}

std::atomic<bool> g_stop{false};

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Plaintext h2c, or TLS with the --tls-* files (gRPC's TLS server takes only
// clients that offer h2 in ALPN).
std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::map<std::string, std::string>& f) {
  const std::string cert = flag(f, "--tls-cert", "");
  if (cert.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions tls;
  tls.pem_key_cert_pairs.push_back({file_text(flag(f, "--tls-key", "")), file_text(cert)});
  if (const std::string ca = flag(f, "--tls-client-ca", ""); !ca.empty()) {
    tls.pem_root_certs = file_text(ca);
    tls.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(tls);
}

int serve(const std::map<std::string, std::string>& f) {
  EchoService service(flag(f, "--version", "v1"), std::atoi(flag(f, "--fail", "0").c_str()),
                      flag(f, "--log-calls", "0") == "1");
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flag(f, "--listen", "127.0.0.1:0"), server_credentials(f), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "cannot listen on " << flag(f, "--listen", "") << "\n";
    return 1;
  }
  std::cout << "listening " << port << std::endl;
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::signal(SIGINT, [](int) { g_stop = true; });
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

void print_status(const grpc::Status& st) {
  std::cout << "status=" << st.error_code() << " message=" << st.error_message() << std::endl;
}

int call(const std::map<std::string, std::string>& f) {
  // --ca: TLS verified against that CA (PEM file), the server's name (SNI
  // and :authority) from --authority; otherwise plaintext h2c.
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  if (const std::string ca = flag(f, "--ca", ""); !ca.empty()) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = file_text(ca);
    creds = grpc::SslCredentials(tls);
  }
  if (const std::string name = flag(f, "--authority", ""); !name.empty()) {
    args.SetSslTargetNameOverride(name);
    args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, name);
  }
  auto channel = grpc::CreateCustomChannel(flag(f, "--target", ""), creds, args);
  auto stub = Echo::NewStub(channel);
  const std::string method = flag(f, "--method", "unary");
  const int calls = std::atoi(flag(f, "--calls", "1").c_str());
  const int deadline_ms = std::atoi(flag(f, "--deadline-ms", "0").c_str());
  const bool latency = flag(f, "--latency", "0") == "1";
  EchoRequest req;
  req.set_text(flag(f, "--text", "hello"));
  req.set_count(std::atoi(flag(f, "--count", "3").c_str()));
  req.set_delay_ms(std::atoi(flag(f, "--delay-ms", "0").c_str()));
  for (int c = 0; c < calls; ++c) {
    grpc::ClientContext ctx;
    if (deadline_ms > 0) ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    EchoReply reply;
    int replies = 0;
    std::string text;
    std::string version;
    grpc::Status st;
    // A streamed reply, which must be the next by its index.
    const auto take_in_order = [&] {
      if (reply.index() != replies) {
        std::cout << "out-of-order index=" << reply.index() << std::endl;
        return false;
      }
      ++replies;
      text = reply.text();
      version = reply.version();
      return true;
    };
    if (method == "unary") {
      st = stub->Unary(&ctx, req, &reply);
      replies = st.ok() ? 1 : 0;
      text = reply.text();
      version = reply.version();
    } else if (method == "stream") {
      auto reader = stub->ServerStream(&ctx, req);
      while (reader->Read(&reply)) {
        if (!take_in_order()) return 1;
      }
      st = reader->Finish();
    } else if (method == "upload") {
      // Client streaming: --count messages of --size bytes each.
      EchoRequest big;
      big.set_text(std::string(static_cast<size_t>(std::atoi(flag(f, "--size", "1024").c_str())), 'u'));
      auto writer = stub->Upload(&ctx, &reply);
      for (int i = 0; i < req.count(); ++i) {
        if (!writer->Write(big)) break;
      }
      writer->WritesDone();
      st = writer->Finish();
      replies = reply.index();
      text = reply.text();
      version = reply.version();
    } else if (method == "pingpong") {
      // Bidi, interleaved: each message waits for the reply to the last,
      // so the call works only if the proxy streams the request body.
      auto stream = stub->Bidi(&ctx);
      std::vector<int64_t> rtt_us;
      for (int i = 0; i < req.count(); ++i) {
        const auto sent = std::chrono::steady_clock::now();
        if (!stream->Write(req) || !stream->Read(&reply)) break;
        rtt_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - sent)
                             .count());
        if (!take_in_order()) return 1;
      }
      stream->WritesDone();
      while (stream->Read(&reply)) ++replies;  // none expected
      st = stream->Finish();
      if (latency && !rtt_us.empty()) {
        // The round trips' percentiles (bench/h2.sh reads this line).
        std::sort(rtt_us.begin(), rtt_us.end());
        const auto at = [&](double q) { return rtt_us[std::min(rtt_us.size() - 1, static_cast<size_t>(q * rtt_us.size()))]; };
        std::cout << "rtt_us p50=" << at(0.50) << " p99=" << at(0.99) << " n=" << rtt_us.size() << std::endl;
      }
    } else {
      // Bidi, in the order a whole-request relay supports: every message,
      // the half-close, then the replies.
      auto stream = stub->Bidi(&ctx);
      for (int i = 0; i < req.count(); ++i) stream->Write(req);
      stream->WritesDone();
      while (stream->Read(&reply)) {
        ++replies;
        text = reply.text();
        version = reply.version();
      }
      st = stream->Finish();
    }
    if (!st.ok()) {
      print_status(st);
      continue;
    }
    std::cout << "ok version=" << version << " replies=" << replies << " text=" << text << std::endl;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: sluice-grpc-echo serve|call [--flag value]...\n";
    return 2;
  }
  const std::string mode = argv[1];
  const auto f = flags(argc, argv);
  if (mode == "serve") return serve(f);
  if (mode == "call") return call(f);
  std::cerr << "unknown mode " << mode << "\n";
  return 2;
}
