/* The one table of names of the kernel's reason, counter and mode enums, for
 * every printer: `sluicectl dump`, the admin API's /maps, /socket-redirect and
 * /xdp. Each name comes from the same X(enumerator, name) list that defines
 * its enum, so a name cannot drift from its value; maps/abi_check.cpp checks
 * that every list is in value order with unique names.
 *
 * Plain C so that any tool can read it; the BPF programs need only the enums
 * and do not include it. An unknown value prints as the fallback that
 * userspace has always printed for it ("unknown" or "?"). */
#ifndef SLUICE_MAPS_REASON_NAMES_H
#define SLUICE_MAPS_REASON_NAMES_H

#include "sock_redir_types.h"
#include "stat_reasons.h"
#include "xdp_lb_types.h"
#include "xdp_stat_reasons.h"

#define SL_NAME_ENTRY(id, name) name,

/* enum sl_reason: the per-CPU verdict counters of the socket programs. */
static inline const char *sl_reason_name(unsigned reason)
{
	static const char *const names[] = {SL_REASON_LIST(SL_NAME_ENTRY)};
	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "unknown";
}

/* enum sl_xreason: the per-CPU verdict counters of XDP and TC. */
static inline const char *sl_xreason_name(unsigned reason)
{
	static const char *const names[] = {SL_XREASON_LIST(SL_NAME_ENTRY)};
	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "unknown";
}

/* enum sl_xdrop: the per-VIP drop counters. */
static inline const char *sl_xdrop_name(unsigned drop)
{
	static const char *const names[] = {SL_XDROP_LIST(SL_NAME_ENTRY)};
	return drop < sizeof(names) / sizeof(names[0]) ? names[drop] : "unknown";
}

/* enum sl_redir_stat: the socket redirection counters. */
static inline const char *sl_redir_stat_name(unsigned stat)
{
	static const char *const names[] = {SL_REDIR_STAT_LIST(SL_NAME_ENTRY)};
	return stat < sizeof(names) / sizeof(names[0]) ? names[stat] : "?";
}

/* enum sl_redir_mode: the per-node socket redirection setting. */
static inline const char *sl_redir_mode_name(unsigned mode)
{
	static const char *const names[] = {SL_REDIR_MODE_LIST(SL_NAME_ENTRY)};
	return mode < sizeof(names) / sizeof(names[0]) ? names[mode] : "?";
}

#undef SL_NAME_ENTRY

#endif
