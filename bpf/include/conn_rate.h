/* The connection-rate token bucket's arithmetic (maps/sock_lb_types.h,
 * struct sl_conn_bucket), as pure functions: connect4 runs them on the map
 * value, the unit tests (test/unit/l4_policy_test.cpp) on a plain struct. */
#ifndef SLUICE_BPF_CONN_RATE_H
#define SLUICE_BPF_CONN_RATE_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* The tokens after `missed` fill intervals: what was left (a burst may have
 * taken it below zero: that counts as empty) plus tokens_per_fill each,
 * never above max_tokens. */
static __always_inline __s64 conn_rate_refilled(__s64 tokens, __u64 missed, __u32 per_fill, __u32 max_tokens)
{
	__u64 room;

	if (tokens < 0)
		tokens = 0;
	if (tokens >= (__s64)max_tokens)
		return max_tokens;
	room = (__u64)max_tokens - (__u64)tokens;
	/* missed * per_fill could overflow after a long idle: cap first. */
	if (missed >= room || missed * per_fill >= room)
		return max_tokens;
	return tokens + (__s64)(missed * per_fill);
}

/* Whether a connect that took a token, leaving `before` (the value the
 * fetch-and-add returned), must be refused. */
static __always_inline int conn_rate_refused(__s64 before)
{
	return before <= 0;
}

#endif
