/* The RTT histogram's buckets (maps/sock_lb_types.h, struct sl_svc_rtt), as
 * a pure function: sockops runs it at close, the unit tests
 * (test/unit/tcp_rtt_test.cpp) check it against the bounds that sluiced
 * prints as the histogram's `le` labels (telemetry/tcp_rtt_metrics.h). */
#ifndef SLUICE_BPF_TCP_RTT_H
#define SLUICE_BPF_TCP_RTT_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Upper bounds in microseconds, inclusive, 1-2-5 steps from 25 us (two
 * pods on one node) to 1 s (a congested path across regions). Bucket 15 is
 * everything above the last. SL_RTT_BUCKETS in maps/consts.h is 16. */
#define TCP_RTT_BOUNDS_US 25, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000

/* tcp_sock's srtt_us holds 8 times the smoothed RTT (RFC 6298's SRTT in
 * units of 1/8 us), which bpf_sock_ops exposes as is. */
static __always_inline __u32 tcp_rtt_us(__u32 srtt_us_x8)
{
	return srtt_us_x8 >> 3;
}

/* The first bucket whose bound is at least us. A loop of constant trip
 * count over constants, which clang unrolls into 15 compares (run at close
 * only); the verifier would take it as a bounded loop otherwise (5.3+). */
static __always_inline __u32 tcp_rtt_bucket(__u32 us)
{
	const __u32 b[] = { TCP_RTT_BOUNDS_US };
	__u32 i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		if (us <= b[i])
			return i;
	}
	return sizeof(b) / sizeof(b[0]);
}

#endif
