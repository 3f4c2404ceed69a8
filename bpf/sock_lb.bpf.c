// SPDX-License-Identifier: GPL-2.0
/* Socket-level L4 load balancing: the connect/sendmsg hooks rewrite a
 * service VIP to a backend before any packet exists, the getpeername/recvmsg
 * hooks show the VIP again, and sockops counts established connections per
 * service and backend for the circuit breaker and least-request.
 *
 * The services are IPv4. A dual-stack AF_INET6 socket reaches them through
 * a v4-mapped address (::ffff:a.b.c.d), which is how gRPC's C core, Java
 * and most runtimes with IPv6 on dial IPv4: those sockets run the *6 hooks,
 * which hand the mapped IPv4 address to the same logic (struct lb4_dst). */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sock_lb_maps.h"
#include "lb_select.h"
#include "l4_policy.h"
#include "conn_rate.h"
#include "tcp_rtt.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. A zero port means no node proxy: HTTP
 * ports are balanced at L4 like the rest. */
const volatile __be32 sl_proxy_ip = 0;
const volatile __be16 sl_proxy_port = 0;
/* SO_MARK of the proxy's own upstream sockets: never redirected back to it. */
const volatile __u32 sl_bypass_mark = 0;
/* The proxy's spread ports, host byte order: [first, first + count) on
 * sl_proxy_ip, all served by the proxy's one listener (sl_proxy_spread
 * below). A pod's connections to HTTP services are spread over them at
 * random, so its TIME_WAIT entries are spread over `count` destinations
 * instead of pinning its ephemeral ports toward one (docs/operations.md,
 * "Short-lived connections"). count 0: every redirect goes to sl_proxy_port. */
const volatile __u16 sl_proxy_spread_first = 0;
const volatile __u16 sl_proxy_spread_count = 0;
/* Set by the loader where cgroup sock_addr programs may call bpf_set_retval
 * (6.1+; the loader probes, not the version): a connect that an
 * authorization policy denies then fails with EACCES, so an application can
 * tell it from the other refusals (EPERM). Where it is 0 the verifier never
 * walks the call, and older kernels load the same object. */
const volatile __u8 sl_policy_errno = 0;

/* From sys/socket.h, which does not build for the BPF target. */
#define SL_AF_INET 2
#define SL_AF_INET6 10
#define SL_SOCK_DGRAM 2

#define SL_VERDICT_ALLOW 1
#define SL_VERDICT_REFUSE 0 /* the caller's connect()/sendmsg() fails with EPERM */
#define SL_EACCES 13

/* An authorization policy's refusal: EACCES where the kernel lets us say so. */
static __always_inline int lb4_refuse_by_policy(void)
{
	lb4_count(SL_R_CONNECT_POLICY_DENIED);
	if (sl_policy_errno)
		bpf_set_retval(-SL_EACCES);
	return SL_VERDICT_REFUSE;
}

/* A socket address's IPv4 destination, which each hook reads from and
 * writes back to its own context: user_ip4 in the *4 hooks, the low word of
 * a v4-mapped user_ip6 in the *6 ones. Shared code never touches the
 * context's address fields, which the verifier allows per hook type only. */
struct lb4_dst {
	__be32 addr;
	__be16 port;
};

struct lb4_choice {
	struct sl_backend_key key;
	struct sl_backend be;
	int panic;
};

static __always_inline struct sl_backend *lb4_slot_backend(const struct sl_svc_key *svc,
							   __u32 bank, __u32 slot,
							   struct sl_backend_key *bk)
{
	struct sl_slot_key sk = { .svc = *svc, .slot = lb4_bank_slot(bank, slot, SL_MAX_SLOTS) };
	__u32 *index = bpf_map_lookup_elem(&sl_slots, &sk);

	if (!index)
		return NULL;
	bk->svc = *svc;
	bk->index = *index;
	return bpf_map_lookup_elem(&sl_backends, bk);
}

struct lb4_probe_ctx {
	const struct sl_svc_key *svc;
	__u32 bank;
	__u32 start;
	__u32 count;
	struct lb4_choice *out;
	int found;
};

static __always_inline long lb4_probe_step(__u32 i, void *data)
{
	struct lb4_probe_ctx *p = data;
	struct sl_backend_key bk;
	struct sl_backend *be;

	be = lb4_slot_backend(p->svc, p->bank, lb4_probe_slot(p->start, i, p->count), &bk);
	if (!be || (be->flags & SL_BE_F_EJECTED))
		return 0;
	p->out->key = bk;
	p->out->be = *be;
	p->found = 1;
	return 1;
}

/* One step of the walk per key of sl_walk (0, 1, ...) until count steps or a
 * find. bpf_for_each_map_elem (5.13) rather than bpf_loop (5.17) or a
 * bounded loop (which cost the verifier 830k instructions per program): the
 * callback is verified once, and 5.13-5.16 kernels have it (docs/kernels.md). */
static long lb4_walk_cb(void *map, const __u32 *key, void *value, void *data)
{
	struct lb4_probe_ctx *p = data;
	__u32 i = *key;

	if (i >= p->count)
		return 1;
	return lb4_probe_step(i, data);
}

/* Walk the slots from start to the first backend that is not ejected. If all
 * are ejected, take start's backend anyway: Envoy's panic mode, where an
 * all-ejected cluster balances over every host rather than failing. */
static __always_inline int lb4_pick_from_slot(const struct sl_svc_key *svc, __u32 bank,
					      __u32 start, __u32 count,
					      struct lb4_choice *out)
{
	struct lb4_probe_ctx p = { .svc = svc, .bank = bank, .start = start,
				   .count = count, .out = out };
	struct sl_backend_key start_key;
	struct sl_backend start_be;
	struct sl_backend *be;

	/* The common case: the chosen slot is healthy, no walk needed. */
	be = lb4_slot_backend(svc, bank, start, &start_key);
	if (be) {
		start_be = *be;
		out->key = start_key;
		out->be = start_be;
		if (!(start_be.flags & SL_BE_F_EJECTED))
			return 0;
	}
	bpf_for_each_map_elem(&sl_walk, lb4_walk_cb, &p, 0);
	if (p.found)
		return 0;
	if (!be)
		return -1;
	out->key = start_key; /* panic: the start slot's backend after all */
	out->be = start_be;
	out->panic = 1;
	return 0;
}

static __always_inline __u64 lb4_backend_active(const struct sl_backend_key *bk)
{
	struct sl_backend_counters *c = bpf_map_lookup_elem(&sl_be_cnt, bk);

	return c ? c->active : 0;
}

static __always_inline int lb4_pick_least_request(const struct sl_svc_key *svc, __u32 bank,
						  __u32 count, struct lb4_choice *out)
{
	__u32 a = lb4_slot_random(bpf_get_prandom_u32(), count);
	__u32 b = lb4_p2c_second(a, bpf_get_prandom_u32(), count);
	struct sl_backend_key ka, kb;
	struct sl_backend *ba, *bb;
	__u32 pick;

	ba = lb4_slot_backend(svc, bank, a, &ka);
	bb = lb4_slot_backend(svc, bank, b, &kb);
	if (!ba || !bb || ((ba->flags | bb->flags) & SL_BE_F_EJECTED)) {
		/* One candidate is unusable: the healthy one wins, else walk. */
		if (ba && !(ba->flags & SL_BE_F_EJECTED)) {
			out->key = ka;
			out->be = *ba;
			return 0;
		}
		if (bb && !(bb->flags & SL_BE_F_EJECTED)) {
			out->key = kb;
			out->be = *bb;
			return 0;
		}
		return lb4_pick_from_slot(svc, bank, a, count, out);
	}
	pick = lb4_p2c(a, lb4_backend_active(&ka), b, lb4_backend_active(&kb));
	if (pick == a) {
		out->key = ka;
		out->be = *ba;
	} else {
		out->key = kb;
		out->be = *bb;
	}
	return 0;
}

static __always_inline int lb4_pick_maglev(const struct sl_svc_key *svc, const struct sl_svc *s,
					   __u32 bank, __u32 hash, struct lb4_choice *out)
{
	void *table = bpf_map_lookup_elem(&sl_maglev, svc);
	struct sl_backend *be;
	__u32 i;

	if (!table || !s->maglev_size)
		return lb4_pick_from_slot(svc, bank, lb4_slot_random(hash, s->slot_count),
					  s->slot_count, out);
	/* Unrolled: as a loop, clang let the latch fall through into the
	 * header, and verifiers before 6.7 (commit 10e14e9652bf; 6.6.3 has the
	 * backport, 6.1 does not) refuse a back-edge that is not a jump: "back-edge
	 * from insn N to N+1" (docs/kernels.md). */
#pragma unroll
	for (i = 0; i < SL_MAGLEV_EJECT_PROBES; i++) {
		__u32 idx = lb4_maglev_index(hash, i, s->maglev_size);
		__u32 *be_index = bpf_map_lookup_elem(table, &idx);

		if (!be_index)
			break;
		out->key.svc = *svc;
		out->key.index = *be_index;
		be = bpf_map_lookup_elem(&sl_backends, &out->key);
		if (!be)
			break;
		if (!(be->flags & SL_BE_F_EJECTED) || i == SL_MAGLEV_EJECT_PROBES - 1) {
			out->be = *be;
			out->panic = (be->flags & SL_BE_F_EJECTED) != 0;
			return 0;
		}
	}
	return lb4_pick_from_slot(svc, bank, lb4_slot_random(hash, s->slot_count),
				  s->slot_count, out);
}

/* Picks a backend for svc with its algorithm. sc: the service's counters
 * (round robin keeps its cursor there; without them it picks at random).
 * hash_key feeds consistent hashing: the caller's network namespace, since a
 * connecting socket has no source address yet. Returns a reason from enum
 * sl_reason. */
static __always_inline __u32 lb4_select(const struct sl_svc_key *key, const struct sl_svc *svc,
					struct sl_svc_counters *sc, __u64 hash_key, struct lb4_choice *out)
{
	__u32 bank = (svc->flags & SL_SVC_F_BANK1) ? 1 : 0;
	__u32 count = svc->slot_count;
	int err;

	if (count == 0 || count > SL_MAX_SLOTS)
		return SL_R_CONNECT_NO_BACKEND;

	switch (svc->algo) {
	case SL_LB_ROUND_ROBIN:
		err = lb4_pick_from_slot(key, bank,
					 sc ? lb4_slot_round_robin(__sync_fetch_and_add(&sc->rr_next, 1),
								   count)
					    : lb4_slot_random(bpf_get_prandom_u32(), count),
					 count, out);
		break;
	case SL_LB_LEAST_REQUEST:
		err = count > 1 ? lb4_pick_least_request(key, bank, count, out)
				: lb4_pick_from_slot(key, bank, 0, count, out);
		break;
	case SL_LB_CONSISTENT_HASH:
		err = lb4_pick_maglev(key, svc, bank, lb4_hash64(hash_key), out);
		break;
	default:
		err = lb4_pick_from_slot(key, bank, lb4_slot_random(bpf_get_prandom_u32(), count),
					 count, out);
		break;
	}
	if (err)
		return SL_R_CONNECT_MAP_ERROR;
	return out->panic ? SL_R_CONNECT_PANIC : SL_R_CONNECT_BALANCED;
}

/* The service's counters, made on first use; only when something reads
 * them: round robin's cursor, or (always) a TCP connection, which sockops
 * counts once established and only looks up. So they are made here, while
 * the service is known to exist, and a service removed during a handshake
 * leaves nothing behind. */
static __always_inline struct sl_svc_counters *lb4_svc_counters(const struct sl_svc_key *key,
								 const struct sl_svc *svc)
{
	struct sl_svc_counters zero = {};

	if (key->proto != IPPROTO_TCP && svc->algo != SL_LB_ROUND_ROBIN)
		return NULL;
	return lb4_counters(&sl_svc_cnt, key, &zero);
}

static __always_inline int lb4_at_capacity(const struct sl_svc *svc, struct sl_svc_counters *sc)
{
	if (svc->max_conns == SL_UNLIMITED)
		return 0;
	if (!sc || sc->active < svc->max_conns)
		return 0;
	__sync_fetch_and_add(&sc->refused, 1);
	return 1;
}

/* The proxy's own sockets: it dials only what its config names, after its
 * own checks (authorization, egress), so the kernel's do not apply again. */
static __always_inline int lb4_is_bypass(const struct bpf_sock *sk)
{
	return sk && sl_bypass_mark && (sk->mark & ~SL_MARK_NO_REDIR) == sl_bypass_mark;
}

/* Whether an HTTP port's connect goes to the node proxy. */
static __always_inline __u32 lb4_proxy_verdict(struct bpf_sock_addr *ctx)
{
	__u32 key = SL_PROXY_LISTENER_KEY;
	struct bpf_sock *sk = ctx->sk;
	struct bpf_sock *lsn;
	__u32 state;

	if (!sl_proxy_port)
		return SL_R_CONNECT_PROXY_DOWN;
	if (lb4_is_bypass(sk))
		return SL_R_CONNECT_BYPASS;
	/* The kernel's own view of the proxy: its listener is in the slot until
	 * it closes. A lookup takes a reference, which must be dropped. */
	lsn = bpf_map_lookup_elem(&sl_proxy_lsn, &key);
	if (!lsn)
		return SL_R_CONNECT_PROXY_DOWN;
	state = lsn->state;
	bpf_sk_release(lsn);
	if (state != BPF_TCP_LISTEN)
		return SL_R_CONNECT_PROXY_DOWN;
	return SL_R_CONNECT_REDIRECTED;
}

static __always_inline int lb4_redirect_to_proxy(struct bpf_sock_addr *ctx, const struct sl_svc_key *key,
						 const struct sl_svc *svc, struct lb4_dst *dst)
{
	struct sl_sock_state *st;
	__be16 port = sl_proxy_port;

	st = bpf_sk_storage_get(&sl_sock_state, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		/* Without state the proxy could not learn the destination. */
		lb4_count(SL_R_SOCK_STORAGE_FULL);
		return 0;
	}
	if (sl_proxy_spread_count)
		port = bpf_htons(sl_proxy_spread_first + (__u16)(bpf_get_prandom_u32() % sl_proxy_spread_count));
	st->svc = *key;
	st->be_addr = sl_proxy_ip;
	st->be_port = port;
	st->be_index = 0;
	st->flags = SL_SOCK_F_REDIRECTED | ((svc->flags & SL_SVC_F_NO_REDIR) ? SL_SOCK_F_NO_REDIR : 0);
	dst->addr = sl_proxy_ip;
	dst->port = port;
	return 1;
}

/* sk_lookup, in the proxy's network namespace: a connection to one of the
 * spread ports lands on the proxy's listener (the one in sl_proxy_lsn; the
 * kernel then picks among its SO_REUSEPORT group as for any listener), so
 * the proxy listens once however many ports the spread has. Anything else
 * is looked up as usual. */
SEC("sk_lookup")
int sl_proxy_spread(struct bpf_sk_lookup *ctx)
{
	__u32 key = SL_PROXY_LISTENER_KEY;
	struct bpf_sock *lsn;
	long err;

	if (!sl_proxy_spread_count || ctx->protocol != IPPROTO_TCP || ctx->local_ip4 != sl_proxy_ip)
		return SK_PASS;
	if (ctx->local_port < sl_proxy_spread_first || ctx->local_port - sl_proxy_spread_first >= sl_proxy_spread_count)
		return SK_PASS;
	lsn = bpf_map_lookup_elem(&sl_proxy_lsn, &key);
	if (!lsn) {
		/* No proxy: connect4 stopped sending here, this is a straggler. */
		lb4_count(SL_R_SPREAD_NO_PROXY);
		return SK_PASS;
	}
	err = bpf_sk_assign(ctx, lsn, 0);
	bpf_sk_release(lsn);
	lb4_count(err ? SL_R_SPREAD_ASSIGN_FAILED : SL_R_SPREAD_ASSIGNED);
	return SK_PASS;
}

/* REGISTRY_ONLY: a TCP connect to no service goes only to a known range
 * (sl_egress). Istio's sidecar answers such a request with a 502; here the
 * connect itself fails, and no byte leaves the pod. Exempt: the proxy's own
 * sockets (it dials only endpoints that the config names), and every socket
 * of the host's network namespace (the kubelet, the container runtime, the
 * cloud agents, hostNetwork pods), which Istio's egress policy never covers
 * either: it has no sidecar there. */
static __always_inline int lb4_egress_blocked(struct bpf_sock_addr *ctx, __be32 addr)
{
	struct sl_egress_key k = { .prefixlen = 32, .addr = addr };
	struct bpf_sock *sk = ctx->sk;
	__u32 *verdict;

	verdict = bpf_map_lookup_elem(&sl_egress, &k);
	if (!verdict || *verdict != SL_EGRESS_DENY)
		return 0;
	/* A NULL context asks for the initial namespace's cookie. */
	if (bpf_get_netns_cookie(ctx) == bpf_get_netns_cookie(NULL))
		return 0;
	return !lb4_is_bypass(sk);
}

/* L4 authorization (bpf/include/l4_policy.h): whether the policies of the
 * destination pod at addr:port (the backend chosen, or the address dialled)
 * refuse the calling pod. Exempt, as from egress control: the proxy's own
 * sockets, and the host's network namespace (the kubelet's probes, the
 * runtime, hostNetwork pods), which has no sidecar in Istio either. */
/* The verdict of policy set `set` for source src_id at port hport (host
 * order), in bpf/include/l4_policy.h's lookup order. */
static __always_inline int lb4_set_refuses(__u32 set, __u32 src_id, __u16 hport)
{
	struct sl_pol_rule_key k;
	__u32 *verdict;
	__u32 step;

#pragma unroll
	for (step = 0; step < L4_POL_STEPS; step++) {
		if (l4_pol_step_redundant(src_id, hport, step))
			continue;
		l4_pol_key(&k, set, src_id, hport, step);
		verdict = bpf_map_lookup_elem(&sl_pol_rule, &k);
		if (verdict)
			return l4_pol_refuses(*verdict);
	}
	return 0;
}

static __always_inline int lb4_policy_refuses(struct bpf_sock_addr *ctx, __be32 addr, __be16 port)
{
	__u32 *set, *src;
	__u32 src_id = SL_POL_SRC_UNKNOWN;
	__u64 cookie;

	set = bpf_map_lookup_elem(&sl_pol_dst, &addr);
	if (!set)
		return 0;
	cookie = bpf_get_netns_cookie(ctx);
	if (cookie == bpf_get_netns_cookie(NULL) || lb4_is_bypass(ctx->sk))
		return 0;
	src = bpf_map_lookup_elem(&sl_pol_src, &cookie);
	if (src)
		src_id = *src;
	return lb4_set_refuses(*set, src_id, bpf_ntohs(port));
}

/* The destination's side of L4 authorization: a connection that reaches a
 * guarded pod of this node is judged again when its SYN arrives, by the
 * source's address (sl_pol_peer), so traffic that passed no sluice connect4
 * meets the same rules. A refused SYN is dropped (the client sees a timeout,
 * as behind any firewall that drops). Runs on the receiving socket's cgroup:
 * the listener's. */
SEC("cgroup_skb/ingress")
int sl_ingress4(struct __sk_buff *skb)
{
	struct iphdr ip;
	struct tcphdr tcp;
	__u32 *set, *peer;
	__u32 src_id = SL_POL_SRC_UNKNOWN;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 1;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_TCP)
		return 1;
	if (bpf_skb_load_bytes(skb, ip.ihl * 4, &tcp, sizeof(tcp)) || !tcp.syn || tcp.ack)
		return 1;
	set = bpf_map_lookup_elem(&sl_pol_dst, &ip.daddr);
	if (!set)
		return 1;
	peer = bpf_map_lookup_elem(&sl_pol_peer, &ip.saddr);
	if (peer) {
		if (*peer == SL_POL_SRC_TRUSTED)
			return 1;
		src_id = *peer;
	}
	if (!lb4_set_refuses(*set, src_id, bpf_ntohs(tcp.dest)))
		return 1;
	lb4_count(SL_R_INGRESS_POLICY_DENIED);
	return 0;
}

/* The L4 connection-rate limit (RateLimitPolicy connectionBucket): a TCP
 * connect from a limited pod takes a token from its bucket, or fails. No
 * lock: the first connect of a new fill interval refills (a compare-and-swap
 * on the epoch decides which), every connect takes with a fetch-and-add. A
 * refill racing a take can lose that take's token: the bucket errs toward
 * admitting, by at most one connect per CPU per interval. */
static __always_inline int lb4_conn_rate_refuses(struct bpf_sock_addr *ctx)
{
	struct sl_conn_bucket *b;
	__u64 cookie, now, epoch, old;
	__u32 *src;

	cookie = bpf_get_netns_cookie(ctx);
	src = bpf_map_lookup_elem(&sl_pol_src, &cookie);
	if (!src)
		return 0;
	b = bpf_map_lookup_elem(&sl_conn_rate, src);
	if (!b || !b->interval_ns || lb4_is_bypass(ctx->sk))
		return 0;
	now = bpf_ktime_get_ns();
	epoch = now / b->interval_ns;
	old = b->epoch;
	if (epoch > old && __sync_val_compare_and_swap(&b->epoch, old, epoch) == old)
		b->tokens = conn_rate_refilled(b->tokens, epoch - old, b->tokens_per_fill, b->max_tokens);
	return conn_rate_refused(__sync_fetch_and_add(&b->tokens, -1));
}

/* A TCP or UDP connect to dst: balanced, sent to the proxy, refused, or left
 * alone. Rewrites *dst when the connection goes elsewhere. */
static __always_inline int lb4_connect(struct bpf_sock_addr *ctx, __u32 proto, struct lb4_dst *dst)
{
	struct sl_svc_key key = {
		.vip = dst->addr,
		.port = dst->port,
		.proto = proto,
	};
	struct sl_backend_counters zero_be = {};
	struct lb4_choice choice = {};
	struct sl_svc_counters *sc;
	struct sl_sock_state *st;
	struct sl_svc *svc;
	__u32 reason;

	if (key.proto != IPPROTO_TCP && key.proto != IPPROTO_UDP)
		return SL_VERDICT_ALLOW;
	if (key.proto == IPPROTO_TCP && lb4_conn_rate_refuses(ctx)) {
		lb4_count(SL_R_CONNECT_RATE_LIMITED);
		return SL_VERDICT_REFUSE;
	}
	svc = bpf_map_lookup_elem(&sl_services, &key);
	if (!svc) {
		if (key.proto == IPPROTO_TCP && lb4_policy_refuses(ctx, key.vip, key.port))
			return lb4_refuse_by_policy();
		if (key.proto == IPPROTO_TCP && lb4_egress_blocked(ctx, key.vip)) {
			lb4_count(SL_R_CONNECT_EGRESS_BLOCKED);
			return SL_VERDICT_REFUSE;
		}
		lb4_count(SL_R_CONNECT_PASS_UNKNOWN);
		return SL_VERDICT_ALLOW;
	}
	if (key.proto == IPPROTO_TCP && (svc->flags & SL_SVC_F_L7)) {
		reason = lb4_proxy_verdict(ctx);
		if (reason == SL_R_CONNECT_PROXY_DOWN && sl_proxy_port && (svc->flags & SL_SVC_F_FAIL_CLOSED)) {
			/* Only the proxy enforces this port's policies: without it,
			 * L4 would skip them. The proxy's own sockets (bypass) pass;
			 * a sluiced run without a proxy enforces no policy at all. */
			lb4_count(SL_R_CONNECT_FAIL_CLOSED);
			return SL_VERDICT_REFUSE;
		}
		if (reason != SL_R_CONNECT_REDIRECTED) {
			lb4_count(reason); /* proxy down or bypassed: balance at L4 below */
		} else if (lb4_redirect_to_proxy(ctx, &key, svc, dst)) {
			lb4_count(reason);
			return SL_VERDICT_ALLOW;
		} /* no socket storage (counted there): balance at L4 below */
	}
	sc = lb4_svc_counters(&key, svc);
	if (key.proto == IPPROTO_TCP && lb4_at_capacity(svc, sc)) {
		lb4_count(SL_R_CONNECT_CB_REFUSED);
		return SL_VERDICT_REFUSE;
	}
	reason = lb4_select(&key, svc, sc, bpf_get_netns_cookie(ctx), &choice);
	lb4_count(reason);
	if (reason != SL_R_CONNECT_BALANCED && reason != SL_R_CONNECT_PANIC)
		return SL_VERDICT_REFUSE;
	/* The chosen backend's policies: another backend of the service would
	 * have the same ones unless its pods differ in labels, and Istio, too,
	 * checks the workload the connection reaches. */
	if (key.proto == IPPROTO_TCP && lb4_policy_refuses(ctx, choice.be.addr, choice.be.port))
		return lb4_refuse_by_policy();

	st = bpf_sk_storage_get(&sl_sock_state, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (st) {
		st->svc = key;
		st->be_addr = choice.be.addr;
		st->be_port = choice.be.port;
		st->be_index = choice.key.index;
		st->flags = (svc->flags & SL_SVC_F_NO_REDIR) ? SL_SOCK_F_NO_REDIR : 0;
		/* The backend's counters, for sockops as the service's above. */
		if (key.proto == IPPROTO_TCP)
			lb4_counters(&sl_be_cnt, &choice.key, &zero_be);
	} else {
		lb4_count(SL_R_SOCK_STORAGE_FULL);
	}
	dst->addr = choice.be.addr;
	dst->port = choice.be.port;
	return SL_VERDICT_ALLOW;
}

/* Whether an IPv6 socket address is v4-mapped (::ffff:a.b.c.d); if so, its
 * IPv4 destination into *dst. Read a word at a time, as the context allows. */
static __always_inline int lb4_from_v4_mapped(const struct bpf_sock_addr *ctx, struct lb4_dst *dst)
{
	if (ctx->user_ip6[0] != 0 || ctx->user_ip6[1] != 0 ||
	    ctx->user_ip6[2] != bpf_htonl(0x0000ffff))
		return 0;
	dst->addr = ctx->user_ip6[3];
	dst->port = (__be16)ctx->user_port;
	return 1;
}

/* The *4 hooks' address, and back; the *6 hooks write only the mapped
 * word (their prefix stays ::ffff:). */
static __always_inline struct lb4_dst lb4_dst_of4(const struct bpf_sock_addr *ctx)
{
	struct lb4_dst d = { .addr = ctx->user_ip4, .port = (__be16)ctx->user_port };

	return d;
}

static __always_inline void lb4_set4(struct bpf_sock_addr *ctx, const struct lb4_dst *d)
{
	ctx->user_ip4 = d->addr;
	ctx->user_port = d->port;
}

static __always_inline void lb4_set6(struct bpf_sock_addr *ctx, const struct lb4_dst *d)
{
	ctx->user_ip6[3] = d->addr;
	ctx->user_port = d->port;
}

SEC("cgroup/connect4")
int sl_connect4(struct bpf_sock_addr *ctx)
{
	struct lb4_dst dst = lb4_dst_of4(ctx);
	int verdict = lb4_connect(ctx, ctx->protocol, &dst);

	lb4_set4(ctx, &dst);
	return verdict;
}

/* A dual-stack socket's connect to a v4-mapped address; native IPv6
 * destinations are left alone (the services have no IPv6 VIPs). The
 * connection itself is IPv4: sockops, sk_lookup and the proxy see IPv4. */
SEC("cgroup/connect6")
int sl_connect6(struct bpf_sock_addr *ctx)
{
	struct lb4_dst dst;
	int verdict;

	if (!lb4_from_v4_mapped(ctx, &dst))
		return SL_VERDICT_ALLOW;
	verdict = lb4_connect(ctx, ctx->protocol, &dst);
	lb4_set6(ctx, &dst);
	return verdict;
}

/* Unconnected UDP: each datagram is balanced, but a socket keeps talking to
 * the backend it got first for as long as that backend stays healthy, so a
 * request and its retransmissions land on one backend. */
SEC("cgroup/sendmsg4")
int sl_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct sl_svc_key key = {
		.vip = ctx->user_ip4,
		.port = (__be16)ctx->user_port,
		.proto = IPPROTO_UDP,
	};
	struct sl_udp_nat_key fk = { .addr = key.vip, .port = key.port, .dir = SL_UDP_DIR_FWD };
	struct sl_udp_nat_key rk = { .dir = SL_UDP_DIR_REV };
	struct sl_udp_nat fwd = {}, rev = {};
	struct lb4_choice choice = {};
	struct sl_udp_nat *sticky;
	struct sl_svc *svc;
	__u32 reason;

	if (ctx->type != SL_SOCK_DGRAM)
		return SL_VERDICT_ALLOW;
	svc = bpf_map_lookup_elem(&sl_services, &key);
	if (!svc) {
		lb4_count(SL_R_SENDMSG_PASS_UNKNOWN);
		return SL_VERDICT_ALLOW;
	}
	fk.cookie = bpf_get_socket_cookie(ctx);
	sticky = bpf_map_lookup_elem(&sl_udp_nat, &fk);
	if (sticky) {
		struct sl_backend_key bk = { .svc = key, .index = sticky->be_index };
		struct sl_backend *be = bpf_map_lookup_elem(&sl_backends, &bk);

		if (be && be->addr == sticky->addr && be->port == sticky->port &&
		    !(be->flags & SL_BE_F_EJECTED)) {
			lb4_count(SL_R_SENDMSG_STICKY);
			ctx->user_ip4 = be->addr;
			ctx->user_port = be->port;
			return SL_VERDICT_ALLOW;
		}
	}
	reason = lb4_select(&key, svc, lb4_svc_counters(&key, svc), bpf_get_netns_cookie(ctx), &choice);
	if (reason != SL_R_CONNECT_BALANCED && reason != SL_R_CONNECT_PANIC) {
		lb4_count(SL_R_SENDMSG_NO_BACKEND);
		return SL_VERDICT_REFUSE;
	}
	lb4_count(SL_R_SENDMSG_BALANCED);

	fwd.addr = choice.be.addr;
	fwd.port = choice.be.port;
	fwd.be_index = choice.key.index;
	bpf_map_update_elem(&sl_udp_nat, &fk, &fwd, BPF_ANY);
	rk.cookie = fk.cookie;
	rk.addr = choice.be.addr;
	rk.port = choice.be.port;
	rev.addr = key.vip;
	rev.port = key.port;
	rev.be_index = choice.key.index;
	bpf_map_update_elem(&sl_udp_nat, &rk, &rev, BPF_ANY);

	ctx->user_ip4 = choice.be.addr;
	ctx->user_port = choice.be.port;
	return SL_VERDICT_ALLOW;
}

/* The address the socket's state says the caller asked for, if the peer
 * address being reported is the backend that state names. */
static __always_inline int lb4_reverse_from_state(const struct bpf_sock_addr *ctx, struct lb4_dst *dst)
{
	struct sl_sock_state *st;

	if (!ctx->sk)
		return 0;
	st = bpf_sk_storage_get(&sl_sock_state, ctx->sk, 0, 0);
	if (!st || st->be_addr != dst->addr || st->be_port != dst->port)
		return 0;
	dst->addr = st->svc.vip;
	dst->port = st->svc.port;
	return 1;
}

/* A datagram's source as the application should see it: the VIP it sent
 * to, not the backend that answered (the connected socket's state, or
 * sendmsg4's per-socket NAT entry). Rewrites *src; counts the verdict. */
static __always_inline void lb4_recvmsg(struct bpf_sock_addr *ctx, struct lb4_dst *src)
{
	struct sl_udp_nat_key rk = {
		.addr = src->addr,
		.port = src->port,
		.dir = SL_UDP_DIR_REV,
	};
	struct sl_udp_nat *rev;

	if (lb4_reverse_from_state(ctx, src)) {
		lb4_count(SL_R_RECVMSG_REVERSED);
		return;
	}
	rk.cookie = bpf_get_socket_cookie(ctx);
	rev = bpf_map_lookup_elem(&sl_udp_nat, &rk);
	if (!rev) {
		lb4_count(SL_R_RECVMSG_PASS);
		return;
	}
	src->addr = rev->addr;
	src->port = rev->port;
	lb4_count(SL_R_RECVMSG_REVERSED);
}

SEC("cgroup/recvmsg4")
int sl_recvmsg4(struct bpf_sock_addr *ctx)
{
	struct lb4_dst src = lb4_dst_of4(ctx);

	lb4_recvmsg(ctx, &src);
	lb4_set4(ctx, &src);
	return SL_VERDICT_ALLOW;
}

/* A dual-stack UDP socket's datagram from an IPv4 peer: its source comes
 * v4-mapped. (Its sends to a v4-mapped VIP run sendmsg4: the kernel hands
 * them to the IPv4 path before the IPv6 hook.) */
SEC("cgroup/recvmsg6")
int sl_recvmsg6(struct bpf_sock_addr *ctx)
{
	struct lb4_dst src;

	if (!lb4_from_v4_mapped(ctx, &src))
		return SL_VERDICT_ALLOW;
	lb4_recvmsg(ctx, &src);
	lb4_set6(ctx, &src);
	return SL_VERDICT_ALLOW;
}

SEC("cgroup/getpeername4")
int sl_getpeername4(struct bpf_sock_addr *ctx)
{
	struct lb4_dst peer = lb4_dst_of4(ctx);

	lb4_count(lb4_reverse_from_state(ctx, &peer) ? SL_R_GETPEER_REVERSED : SL_R_GETPEER_PASS);
	lb4_set4(ctx, &peer);
	return SL_VERDICT_ALLOW;
}

SEC("cgroup/getpeername6")
int sl_getpeername6(struct bpf_sock_addr *ctx)
{
	struct lb4_dst peer;

	if (!lb4_from_v4_mapped(ctx, &peer))
		return SL_VERDICT_ALLOW;
	lb4_count(lb4_reverse_from_state(ctx, &peer) ? SL_R_GETPEER_REVERSED : SL_R_GETPEER_PASS);
	lb4_set6(ctx, &peer);
	return SL_VERDICT_ALLOW;
}

/* Lowers *v by one but never below zero: a counter can be reset by userspace
 * while connections are open, and their later closes must not wrap it. */
static __always_inline int lb4_release_counter(__u64 *v)
{
	for (int i = 0; i < 8; i++) {
		__u64 old = *(volatile __u64 *)v;

		if (old == 0)
			return -1;
		if (__sync_val_compare_and_swap(v, old, lb4_release(old)) == old)
			return 0;
	}
	return 0;
}

/* A redirected connection is established: publish its original
 * destination under the client's address, which is what the proxy sees as
 * the peer of the accepted socket. */
static __always_inline struct sl_orig_dst_key lb4_orig_dst_key(const struct bpf_sock_ops *skops,
								 const struct sl_sock_state *st)
{
	struct sl_orig_dst_key k = {
		.client_ip = skops->local_ip4,
		.client_port = bpf_htons((__u16)skops->local_port),
		.proxy_port = st->be_port, /* the proxy port connect4 chose */
	};

	return k;
}

static __always_inline void lb4_record_orig_dst(struct bpf_sock_ops *skops, struct sl_sock_state *st)
{
	struct sl_orig_dst_key k = lb4_orig_dst_key(skops, st);
	struct sl_orig_dst v = { .svc = st->svc, .cookie = bpf_get_socket_cookie(skops) };

	bpf_map_update_elem(&sl_orig_dst, &k, &v, BPF_ANY);
	st->flags |= SL_SOCK_F_COUNTED; /* so the close below removes the entry */
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
	lb4_count(SL_R_ORIG_DST_RECORDED);
}

static __always_inline struct sl_edge_key lb4_edge_key(const struct bpf_sock_ops *skops,
							const struct sl_sock_state *st)
{
	struct sl_edge_key k = {
		.src_ip = skops->local_ip4,
		.dst_ip = st->be_addr,
		.svc = st->svc,
	};

	return k;
}

/* The counters of the connection's edge, created on first use. */
static __always_inline struct sl_edge_counters *lb4_edge(const struct bpf_sock_ops *skops,
							 const struct sl_sock_state *st)
{
	struct sl_edge_key k = lb4_edge_key(skops, st);
	struct sl_edge_counters zero = {};
	struct sl_edge_counters *c;

	c = bpf_map_lookup_elem(&sl_edge_cnt, &k);
	if (c)
		return c;
	bpf_map_update_elem(&sl_edge_cnt, &k, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sl_edge_cnt, &k);
}

/* The node proxy's upstream connection to a pod: no service state, but its
 * RTT at close is the network's to that endpoint (lb4_record_rtt). */
static __always_inline struct sl_svc_key lb4_endpoint_rtt_key(const struct bpf_sock_ops *skops)
{
	struct sl_svc_key k = {
		.vip = skops->remote_ip4,
		.port = (__be16)bpf_htons((__u16)bpf_ntohl(skops->remote_port)),
		.proto = SL_RTT_PROTO_ENDPOINT,
	};

	return k;
}

static __always_inline void lb4_count_established(struct bpf_sock_ops *skops)
{
	struct sl_edge_counters *edge;
	struct sl_backend_key bk;
	struct sl_svc_counters *sc;
	struct sl_backend_counters *bc;
	struct sl_sock_state *st;
	struct bpf_sock *sk = skops->sk;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&sl_sock_state, sk, 0, 0);
	if (!st && lb4_is_bypass(sk)) {
		/* Only for the close callback, which samples its RTT. */
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
		return;
	}
	if (!st || (st->flags & SL_SOCK_F_COUNTED))
		return;
	if (st->flags & SL_SOCK_F_REDIRECTED) {
		lb4_record_orig_dst(skops, st);
		return;
	}
	bk.svc = st->svc;
	bk.index = st->be_index;
	/* Lookups only: connect4 created the entries while the service was
	 * there. One removed since then has no counters left to bring back. */
	sc = bpf_map_lookup_elem(&sl_svc_cnt, &st->svc);
	if (sc) {
		__sync_fetch_and_add(&sc->active, 1);
		__sync_fetch_and_add(&sc->total, 1);
	}
	bc = bpf_map_lookup_elem(&sl_be_cnt, &bk);
	if (bc) {
		__sync_fetch_and_add(&bc->active, 1);
		__sync_fetch_and_add(&bc->total, 1);
	}
	edge = lb4_edge(skops, st);
	if (edge)
		__sync_fetch_and_add(&edge->opened, 1);
	st->flags |= SL_SOCK_F_COUNTED;
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
	lb4_count(SL_R_SOCKOPS_COUNTED);
}

/* The closing connection's RTT and retransmits, into its service's
 * sl_svc_rtt (made on the service's first close). A connection that never
 * measured an RTT (srtt 0) adds no RTT sample. */
static __always_inline void lb4_record_rtt(const struct bpf_sock_ops *skops, const struct sl_svc_key *svc)
{
	struct sl_svc_rtt zero = {};
	struct sl_svc_rtt *r;
	__u32 us, retrans, bucket;

	r = bpf_map_lookup_elem(&sl_svc_rtt, svc);
	if (!r) {
		bpf_map_update_elem(&sl_svc_rtt, svc, &zero, BPF_NOEXIST);
		r = bpf_map_lookup_elem(&sl_svc_rtt, svc);
		if (!r)
			return;
	}
	if (skops->srtt_us) {
		us = tcp_rtt_us(skops->srtt_us);
		bucket = tcp_rtt_bucket(us);
		if (bucket < SL_RTT_BUCKETS)
			__sync_fetch_and_add(&r->buckets[bucket], 1);
		__sync_fetch_and_add(&r->rtt_us_sum, us);
	}
	retrans = skops->total_retrans;
	if (retrans) {
		__sync_fetch_and_add(&r->retransmits, retrans);
		__sync_fetch_and_add(&r->retransmitting, 1);
	}
}

static __always_inline void lb4_release_closed(struct bpf_sock_ops *skops)
{
	struct sl_edge_counters *edge;
	struct sl_backend_key bk;
	struct sl_svc_counters *sc;
	struct sl_backend_counters *bc;
	struct sl_sock_state *st;
	struct bpf_sock *sk = skops->sk;
	int floor = 0;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&sl_sock_state, sk, 0, 0);
	if (!st && lb4_is_bypass(sk)) {
		struct sl_svc_key endpoint = lb4_endpoint_rtt_key(skops);

		lb4_record_rtt(skops, &endpoint);
		return;
	}
	if (!st || !(st->flags & SL_SOCK_F_COUNTED))
		return;
	st->flags &= ~SL_SOCK_F_COUNTED;
	if (st->flags & SL_SOCK_F_REDIRECTED) {
		struct sl_orig_dst_key k = lb4_orig_dst_key(skops, st);

		bpf_map_delete_elem(&sl_orig_dst, &k);
		return;
	}
	bk.svc = st->svc;
	bk.index = st->be_index;
	sc = bpf_map_lookup_elem(&sl_svc_cnt, &st->svc);
	if (sc && lb4_release_counter(&sc->active))
		floor = 1;
	bc = bpf_map_lookup_elem(&sl_be_cnt, &bk);
	if (bc && lb4_release_counter(&bc->active))
		floor = 1;
	edge = lb4_edge(skops, st);
	if (edge) {
		__sync_fetch_and_add(&edge->closed, 1);
		__sync_fetch_and_add(&edge->bytes_to_backend, skops->bytes_acked);
		__sync_fetch_and_add(&edge->bytes_from_backend, skops->bytes_received);
	}
	lb4_record_rtt(skops, &st->svc);
	lb4_count(floor ? SL_R_SOCKOPS_FLOOR : SL_R_SOCKOPS_RELEASED);
}

/* AF_INET6 sockets too: a dual-stack socket that connect6 balanced to a
 * v4-mapped address has an IPv4 connection, whose addresses local_ip4 and
 * remote_ip4 read. Only sockets with state from a connect hook are acted on. */
SEC("sockops")
int sl_sockops(struct bpf_sock_ops *skops)
{
	if (skops->family != SL_AF_INET && skops->family != SL_AF_INET6)
		return 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		lb4_count_established(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE)
			lb4_release_closed(skops);
		break;
	default:
		break;
	}
	return 1;
}
