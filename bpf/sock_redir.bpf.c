/* Socket redirection between local sockets. sockops puts both ends of a
 * connection whose ends are both on this node into sl_sockhash; sk_msg then
 * hands every message a socket sends straight to its peer's receive queue
 * (bpf_msg_redirect_hash with BPF_F_INGRESS), skipping TCP/IP. Anything it
 * cannot redirect goes through the stack as usual.
 *
 * Known kernel limit (6.18): redirected bytes wait in the receiver's psock
 * queue, which recv/read and MSG_PEEK see but splice(2) does not. A service
 * whose servers splice must opt out (docs/sockmap.md). Proxy mode avoids
 * the limit: only the node proxy (which never splices) receives redirected
 * bytes; what it sends, and pod-to-pod traffic, keep the stack. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sock_redir_maps.h"

char LICENSE[] SEC("license") = "GPL";

#define SL_AF_INET 2
#define SL_AF_INET6 10
#define SL_E2BIG 7
#define SL_ENOMEM 12
#define SL_ENOSPC 28

/* Set by the loader. Local means: inside the node's pod network, or the
 * node's own address (where the proxy listens and dials from). */
const volatile __u32 sl_redir_mode = SL_REDIR_OFF;
const volatile __be32 sl_local_net = 0;
const volatile __be32 sl_local_mask = 0xffffffff; /* nothing local but sl_node_ip */
const volatile __be32 sl_node_ip = 0;
const volatile __u32 sl_bulk_bytes = SL_REDIR_DEFAULT_BULK_BYTES;
/* The node proxy's SO_MARK on its upstream sockets (0: none). */
const volatile __u32 sl_proxy_mark = 0;

static __always_inline int redir_is_local(__be32 ip)
{
	return ip == sl_node_ip || (ip & sl_local_mask) == sl_local_net;
}

/* 0 when the socket is in its sockhash now: sl_proxyhash for the proxy's
 * side in proxy mode, sl_sockhash otherwise. */
static __always_inline int redir_insert(struct bpf_sock_ops *skops, struct sl_redir_key *key, int proxy_side)
{
	struct sl_redir_sk *st;
	struct bpf_sock *sk;
	long err;

	if (proxy_side)
		err = bpf_sock_hash_update(skops, &sl_proxyhash, key, BPF_NOEXIST);
	else
		err = bpf_sock_hash_update(skops, &sl_sockhash, key, BPF_NOEXIST);
	if (err) {
		redir_count(err == -SL_E2BIG || err == -SL_ENOMEM || err == -SL_ENOSPC ? SL_RS_FULL : SL_RS_INSERT_ERROR, 1);
		return -1;
	}
	redir_count(SL_RS_INSERTED, 1);
	sk = skops->sk;
	if (!sk)
		return 0;
	st = bpf_sk_storage_get(&sl_redir_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (st)
		st->flags = SL_REDIR_SK_F_INSERTED;
	/* For the close callback, which counts the removal. */
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
	return 0;
}

static __always_inline int redir_is_proxy_upstream(const struct bpf_sock *sk, const struct sl_redir_key *key)
{
	return sk && sl_proxy_mark && key->local_ip == sl_node_ip && (sk->mark & ~SL_MARK_NO_REDIR) == sl_proxy_mark;
}

static __always_inline void redir_active(struct bpf_sock_ops *skops, struct sl_redir_key *key)
{
	struct sl_redir_key peer = {
		.local_ip = key->remote_ip,
		.remote_ip = key->local_ip,
		.local_port = key->remote_port,
		.remote_port = key->local_port,
	};
	struct sl_sock_state *lb;
	struct bpf_sock *sk;
	__u32 pend = SL_REDIR_PEND_SENDER;
	int proxy_side = 0, to_proxy;

	sk = skops->sk;
	lb = sk ? bpf_sk_storage_get(&sl_sock_state, sk, 0, 0) : 0;
	/* connect4 sent this socket to the node proxy: both ends are on this
	 * node by construction, whatever the pod network setting. */
	to_proxy = lb && (lb->flags & SL_SOCK_F_REDIRECTED);
	if (!to_proxy && (!redir_is_local(key->local_ip) || !redir_is_local(key->remote_ip))) {
		redir_count(SL_RS_NOT_LOCAL, 1);
		return;
	}
	/* Only connections to a service qualify: connect4 left its state on
	 * the socket (balanced at L4, or sent to the node proxy), or the socket
	 * is the node proxy's own, dialling an endpoint. Pod-to-pod traffic by
	 * IP stays on the stack. */
	if (!lb && key->local_ip != sl_node_ip) {
		redir_count(SL_RS_NOT_SERVICE, 1);
		return;
	}
	if ((lb && (lb->flags & SL_SOCK_F_NO_REDIR)) || (sk && (sk->mark & SL_MARK_NO_REDIR))) {
		redir_count(SL_RS_OPTED_OUT, 1);
		return;
	}
	if (sl_redir_mode == SL_REDIR_PROXY) {
		/* Only the proxy's end receives redirected bytes. A pod dialling
		 * the proxy sends through sk_msg, the proxy's accepted socket goes
		 * to sl_proxyhash; the proxy's upstream socket goes there itself,
		 * the backend's socket sends through sk_msg. */
		if (to_proxy) {
			pend = SL_REDIR_PEND_PROXY;
		} else if (redir_is_proxy_upstream(sk, key)) {
			proxy_side = 1;
		} else {
			redir_count(SL_RS_NOT_PROXY, 1);
			return;
		}
	}
	/* The passive side is established after this (it needs our ACK), and
	 * follows only if this side made it into its sockhash. */
	if (redir_insert(skops, key, proxy_side) == 0)
		bpf_map_update_elem(&sl_redir_pend, &peer, &pend, BPF_ANY);
}

static __always_inline void redir_passive(struct bpf_sock_ops *skops, struct sl_redir_key *key)
{
	__u32 *pend = bpf_map_lookup_elem(&sl_redir_pend, key);
	int proxy_side;

	/* No note: the active side is remote, opted out or was not inserted. */
	if (!pend)
		return;
	/* A note left by a proxy-mode run before a restart into another mode
	 * counts as a plain one. */
	proxy_side = sl_redir_mode == SL_REDIR_PROXY && *pend == SL_REDIR_PEND_PROXY;
	if (bpf_map_delete_elem(&sl_redir_pend, key))
		return;
	redir_insert(skops, key, proxy_side);
}

/* A dual-stack AF_INET6 socket whose connection is IPv4 (its peer is
 * ::ffff:a.b.c.d): a gRPC or Java client dialling through a v4-mapped
 * address, or a server listening on [::] that accepted an IPv4 client. Its
 * local_ip4/remote_ip4 (and sk_msg's) read the IPv4 addresses, so it is
 * keyed and redirected like an AF_INET socket. Native IPv6 is left alone. */
static __always_inline int redir_is_v4_mapped(const struct bpf_sock_ops *skops)
{
	return skops->remote_ip6[0] == 0 && skops->remote_ip6[1] == 0 &&
	       skops->remote_ip6[2] == bpf_htonl(0x0000ffff);
}

SEC("sockops")
int sl_redir_sockops(struct bpf_sock_ops *skops)
{
	struct sl_redir_key key;
	struct sl_redir_sk *st;
	struct bpf_sock *sk;

	if (sl_redir_mode == SL_REDIR_OFF)
		return 1;
	if (skops->family != SL_AF_INET && !(skops->family == SL_AF_INET6 && redir_is_v4_mapped(skops)))
		return 1;
	key.local_ip = skops->local_ip4;
	key.remote_ip = skops->remote_ip4;
	key.local_port = skops->local_port;
	key.remote_port = bpf_ntohl(skops->remote_port);
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		redir_active(skops, &key);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		redir_passive(skops, &key);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		sk = skops->sk;
		if (skops->args[1] != BPF_TCP_CLOSE || !sk)
			break;
		st = bpf_sk_storage_get(&sl_redir_sk, sk, 0, 0);
		if (st && (st->flags & SL_REDIR_SK_F_INSERTED)) {
			st->flags &= ~SL_REDIR_SK_F_INSERTED;
			redir_count(SL_RS_REMOVED, 1);
		}
		break;
	default:
		break;
	}
	return 1;
}

SEC("sk_msg")
int sl_redir_msg(struct sk_msg_md *msg)
{
	struct sl_redir_key peer;
	struct sl_redir_sk *st;
	struct bpf_sock *sk;
	__u32 size = msg->size;
	long verdict;

	/* Only IPv4 connections are ever inserted (AF_INET sockets and v4-mapped
	 * AF_INET6 ones), so msg's IPv4 addresses are its own. */
	sk = msg->sk;
	if (sl_redir_mode == SL_REDIR_AUTO && sl_bulk_bytes && sk) {
		/* Once a socket has moved to the stack it never comes back: bytes
		 * already redirected are read before those the stack delivers,
		 * but the reverse order could not be guaranteed. */
		st = bpf_sk_storage_get(&sl_redir_sk, sk, 0, 0);
		if (st && ((st->flags & SL_REDIR_SK_F_BULK) || size >= sl_bulk_bytes)) {
			st->flags |= SL_REDIR_SK_F_BULK;
			redir_count(SL_RS_MSG_BULK, 1);
			redir_count(SL_RS_BYTES_BULK, size);
			return SK_PASS;
		}
	}
	peer.local_ip = msg->remote_ip4;
	peer.remote_ip = msg->local_ip4;
	peer.local_port = bpf_ntohl(msg->remote_port);
	peer.remote_port = msg->local_port;
	if (sl_redir_mode == SL_REDIR_PROXY)
		verdict = bpf_msg_redirect_hash(msg, &sl_proxyhash, &peer, BPF_F_INGRESS);
	else
		verdict = bpf_msg_redirect_hash(msg, &sl_sockhash, &peer, BPF_F_INGRESS);
	if (verdict == SK_PASS) {
		redir_count(SL_RS_MSG_REDIRECTED, 1);
		redir_count(SL_RS_BYTES_REDIRECTED, size);
	} else {
		redir_count(SL_RS_MSG_MISS, 1);
		redir_count(SL_RS_BYTES_MISS, size);
	}
	return SK_PASS;
}
