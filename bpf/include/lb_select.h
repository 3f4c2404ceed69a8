/* Pure backend-selection logic. No map access and no helpers: the callers
 * pass in random numbers and counter values. It compiles into the BPF
 * programs and into the GoogleTest unit tests (test/unit/lb_select_test.cpp),
 * so both run the same code. */
#ifndef SLUICE_BPF_LB_SELECT_H
#define SLUICE_BPF_LB_SELECT_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* murmur3's 64-bit finalizer folded to 32 bits: cheap, and good enough to
 * spread network-namespace cookies and addresses over a Maglev table. */
static __always_inline __u32 lb4_hash64(__u64 k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return (__u32)k ^ (__u32)(k >> 32);
}

static __always_inline __u32 lb4_slot_random(__u32 rnd, __u32 count)
{
	return count ? rnd % count : 0;
}

static __always_inline __u32 lb4_slot_round_robin(__u64 cursor, __u32 count)
{
	return count ? (__u32)(cursor % count) : 0;
}

/* Power of two choices: of two candidates, the one with fewer active
 * connections wins; a tie keeps the first, which was itself random. */
static __always_inline __u32 lb4_p2c(__u32 slot_a, __u64 active_a,
				     __u32 slot_b, __u64 active_b)
{
	return active_b < active_a ? slot_b : slot_a;
}

/* Two distinct random slots out of count (count >= 2). */
static __always_inline __u32 lb4_p2c_second(__u32 first, __u32 rnd, __u32 count)
{
	__u32 off = count > 1 ? 1 + rnd % (count - 1) : 0;
	__u32 s = first + off;
	return s >= count ? s - count : s;
}

/* The i-th slot probed after start when start's backend is ejected: a
 * linear walk, so the order is deterministic for a given start. */
static __always_inline __u32 lb4_probe_slot(__u32 start, __u32 i, __u32 count)
{
	__u32 s = start + i;
	return count ? s % count : 0;
}

static __always_inline __u32 lb4_maglev_index(__u32 hash, __u32 i, __u32 size)
{
	return size ? (hash + i) % size : 0;
}

/* Slot index in the slot map for a bank. */
static __always_inline __u32 lb4_bank_slot(__u32 bank, __u32 index, __u32 max_slots)
{
	return bank * max_slots + index;
}

/* Never below zero: the new value of a counter that releases one unit. */
static __always_inline __u64 lb4_release(__u64 v)
{
	return v ? v - 1 : 0;
}

#endif
