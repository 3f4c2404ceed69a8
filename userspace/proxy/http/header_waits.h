// Downstream connections waiting for request headers (or a ClientHello).
// Rather than a timer per request, each worker keeps these in a list that its
// sweeper checks: one past its deadline has its read cancelled (then 408, or
// a close when nothing came). A wait lives on the session's frame, linked
// only while it waits.
#pragma once

#include <algorithm>
#include <chrono>

#include "proxy_asio.h"

namespace sluice::proxy {

struct HeaderWait {
  std::chrono::steady_clock::time_point deadline;
  Socket* socket = nullptr;
  bool timed_out = false;
  HeaderWait* prev = nullptr;
  HeaderWait* next = nullptr;
};

class HeaderWaits {
 public:
  void add(HeaderWait& w) {
    w.prev = nullptr;
    w.next = head_;
    if (head_) head_->prev = &w;
    head_ = &w;
  }
  void remove(HeaderWait& w) {
    if (w.prev) w.prev->next = w.next; else if (head_ == &w) head_ = w.next;
    if (w.next) w.next->prev = w.prev;
    w.prev = w.next = nullptr;
  }
  // No wait goes past `latest` (a drain closes idle connections soon).
  void cap(std::chrono::steady_clock::time_point latest) {
    for (HeaderWait* w = head_; w; w = w->next) w->deadline = std::min(w->deadline, latest);
  }
  void expire(std::chrono::steady_clock::time_point now) {
    for (HeaderWait* w = head_; w; w = w->next) {
      if (w->timed_out || now < w->deadline) continue;
      w->timed_out = true;
      boost::beast::error_code ignored;
      w->socket->cancel(ignored);
    }
  }

 private:
  HeaderWait* head_ = nullptr;
};

}  // namespace sluice::proxy
