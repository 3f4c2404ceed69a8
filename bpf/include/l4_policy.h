/* The L4 authorization verdict (maps/sock_lb_types.h, sl_pol_*), as pure
 * logic: which rule keys connect4 looks up, in which order, and what an
 * answer means. No map access and no helpers, so it compiles into the BPF
 * program and into the GoogleTest unit tests (test/unit/l4_policy_test.cpp),
 * which run the same code against a table that sluiced compiled.
 *
 * For a destination pod with a policy set, the verdict is the first rule
 * found of:
 *   1. (source, port)        the source's verdict for a port the set names;
 *   2. (source, OTHER)       its verdict for any other port;
 *   3. (UNKNOWN, port)       a source sluiced has not written rules for yet
 *   4. (UNKNOWN, OTHER)      (it writes a source's rules before its id) is
 *                            judged as a source with no identity.
 * No rule at all allows: sluiced writes a set's rules before pointing any
 * destination at it, so that happens only for a set being torn down. */
#ifndef SLUICE_BPF_L4_POLICY_H
#define SLUICE_BPF_L4_POLICY_H

#include <linux/types.h>

#include "sock_lb_types.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define L4_POL_STEPS 4u

/* The key of lookup `step` (0 .. L4_POL_STEPS-1). */
static __always_inline void l4_pol_key(struct sl_pol_rule_key *k, __u32 set, __u32 src, __u16 port, __u32 step)
{
	k->set = set;
	k->src = step < 2 ? src : SL_POL_SRC_UNKNOWN;
	k->port = (step & 1) ? (__u16)SL_POL_PORT_OTHER : port;
	k->pad = 0;
}

/* Whether lookup `step` repeats an earlier one: an unknown source's steps
 * 3 and 4 are its 1 and 2, and port OTHER's odd steps its even ones. */
static __always_inline int l4_pol_step_redundant(__u32 src, __u16 port, __u32 step)
{
	if (step >= 2 && src == SL_POL_SRC_UNKNOWN)
		return 1;
	return (step & 1) && port == SL_POL_PORT_OTHER;
}

static __always_inline int l4_pol_refuses(__u32 verdict)
{
	return verdict == SL_POL_DENY;
}

#endif
