/*
 * IPv6 UDP for the Moddable host on Linux (the `lin` build): what Moddable's own UDP lacks (it is
 * AF_INET only): a bind address with its zone, link-local scope ids as interface indexes, MLD joins,
 * and for each datagram the interface it arrived on and whether it was sent to a multicast group
 * (IPV6_RECVPKTINFO, RFC 3542 §6). The contract, shared with esp32/udp6.c, is hosts/moddable/udp6.ts:
 *
 *   constructor(address, port, ifindex, reuse, receive, meta)  bind; receive/meta: ArrayBuffers kept
 *       for the socket's life. For each datagram the C side writes the payload into `receive` and into
 *       `meta` the source (16 bytes), its port (2, big-endian), the arrival interface index (4,
 *       little-endian) and 1 when the destination was multicast, then calls this.onPacket(length).
 *       Nothing is allocated per datagram on either side of the boundary.
 *   send(data, length, address, port, ifindex) → 0, or a negative errno (sends never throw; esp32: a
 *       negative lwIP err_t).
 *   join(group, ifindex) / leave(group, ifindex)   IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP (MLD).
 *   port() → the bound port.   close() idempotent.
 *   xs_udp6_if_index(name) / xs_udp6_if_name(index): zone names ↔ interface indexes.
 *
 * Readiness comes from the glib main loop the lin runtime runs (its timers are glib timeouts too),
 * so a datagram is handled as soon as it arrives, and every queued datagram in one turn.
 */

#define _GNU_SOURCE
#include "xsmc.h"
#include "mc.xs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <glib.h>
#include <glib-unix.h>

#define META_BYTES 23

typedef struct {
	int fd;
	guint source;
	int port;
	xsMachine *the;
	xsSlot obj;
	xsSlot receive;
	xsSlot meta;
} Udp6Record, *Udp6;

static void udp6Mark(xsMachine *the, void *it, xsMarkRoot markRoot);
static gboolean udp6Readable(gint fd, GIOCondition condition, gpointer refcon);

static const xsHostHooks udp6Hooks = { xs_udp6_destructor, udp6Mark, NULL };

static void udp6Stop(Udp6 udp)
{
	if (udp->source) {
		g_source_remove(udp->source);
		udp->source = 0;
	}
	if (udp->fd >= 0) {
		close(udp->fd);
		udp->fd = -1;
	}
}

void xs_udp6_destructor(void *data)
{
	Udp6 udp = data;
	if (!udp) return;
	udp6Stop(udp);
	c_free(udp);
}

static void udp6Mark(xsMachine *the, void *it, xsMarkRoot markRoot)
{
	Udp6 udp = it;
	(*markRoot)(the, &udp->receive);
	(*markRoot)(the, &udp->meta);
}

static void parseAddress(xsMachine *the, xsSlot *slot, struct in6_addr *out)
{
	const char *text = xsmcToString(*slot);
	if (!text[0]) {
		*out = in6addr_any;
		return;
	}
	if (1 != inet_pton(AF_INET6, text, out))
		xsRangeError("invalid IPv6 address");
}

void xs_udp6_constructor(xsMachine *the)
{
	struct sockaddr_in6 local = { .sin6_family = AF_INET6 };
	socklen_t localLength = sizeof(local);
	int port = xsmcToInteger(xsArg(1));
	int ifindex = xsmcToInteger(xsArg(2));
	int reuse = xsmcTest(xsArg(3));
	int on = 1;
	Udp6 udp;

	if ((port < 0) || (port > 65535))
		xsRangeError("invalid port");
	parseAddress(the, &xsArg(0), &local.sin6_addr);
	local.sin6_port = htons(port);
	local.sin6_scope_id = ifindex;

	udp = c_calloc(1, sizeof(Udp6Record));
	if (!udp)
		xsRangeError("no memory");
	udp->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	xsmcSetHostData(xsThis, udp);
	xsSetHostHooks(xsThis, (xsHostHooks *)&udp6Hooks);
	if (udp->fd < 0)
		xsUnknownError("socket: %s", strerror(errno));

	setsockopt(udp->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	setsockopt(udp->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	if (reuse) {
		setsockopt(udp->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		setsockopt(udp->fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	}
	if (ifindex) {
		// A zone without a scoped address still means "this interface": for the wildcard or a
		// group address only the device binding keeps other interfaces' datagrams out.
		if (!IN6_IS_ADDR_LINKLOCAL(&local.sin6_addr)) {
			char name[IF_NAMESIZE];
			if (!if_indextoname(ifindex, name) || setsockopt(udp->fd, SOL_SOCKET, SO_BINDTODEVICE, name, strlen(name) + 1))
				xsUnknownError("bind to interface %d: %s", ifindex, strerror(errno));
		}
		setsockopt(udp->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex));
	}
	if (bind(udp->fd, (struct sockaddr *)&local, sizeof(local)))
		xsUnknownError("bind: %s", strerror(errno));
	getsockname(udp->fd, (struct sockaddr *)&local, &localLength);
	udp->port = ntohs(local.sin6_port);

	udp->the = the;
	udp->obj = xsThis;
	udp->receive = xsArg(4);
	udp->meta = xsArg(5);
	if ((xsmcGetArrayBufferLength(udp->meta) < META_BYTES) || (xsmcGetArrayBufferLength(udp->receive) < 1))
		xsRangeError("buffers too small");
	xsRemember(udp->obj);
	udp->source = g_unix_fd_add(udp->fd, G_IO_IN, udp6Readable, udp);
}

static Udp6 udp6Get(xsMachine *the)
{
	Udp6 udp = xsmcGetHostDataValidate(xsThis, (void *)&udp6Hooks);
	if (!udp || (udp->fd < 0))
		xsUnknownError("closed");
	return udp;
}

void xs_udp6_close(xsMachine *the)
{
	Udp6 udp = xsmcGetHostData(xsThis);
	if (!udp || !xsmcGetHostDataValidate(xsThis, (void *)&udp6Hooks) || (udp->fd < 0))
		return;
	udp6Stop(udp);
	xsForget(udp->obj);
}

void xs_udp6_port(xsMachine *the)
{
	xsmcSetInteger(xsResult, udp6Get(the)->port);
}

void xs_udp6_send(xsMachine *the)
{
	Udp6 udp = udp6Get(the);
	struct sockaddr_in6 to = { .sin6_family = AF_INET6 };
	void *data;
	xsUnsignedValue available;
	int length = xsmcToInteger(xsArg(1));

	// Sends never throw: a bad argument is an error code like any refused send.
	xsmcGetBufferReadable(xsArg(0), &data, &available);
	if ((length < 0) || ((xsUnsignedValue)length > available) || (1 != inet_pton(AF_INET6, xsmcToString(xsArg(2)), &to.sin6_addr))) {
		xsmcSetInteger(xsResult, -EINVAL);
		return;
	}
	to.sin6_port = htons(xsmcToInteger(xsArg(3)));
	to.sin6_scope_id = xsmcToInteger(xsArg(4));
	if (sendto(udp->fd, data, length, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		xsmcSetInteger(xsResult, -errno);
	else
		xsmcSetInteger(xsResult, 0);
}

static void membership(xsMachine *the, int option)
{
	Udp6 udp = udp6Get(the);
	struct ipv6_mreq request;
	parseAddress(the, &xsArg(0), &request.ipv6mr_multiaddr);
	if (!IN6_IS_ADDR_MULTICAST(&request.ipv6mr_multiaddr))
		xsRangeError("not a multicast address");
	request.ipv6mr_interface = xsmcToInteger(xsArg(1));
	if (setsockopt(udp->fd, IPPROTO_IPV6, option, &request, sizeof(request)) && !((option == IPV6_LEAVE_GROUP) && (errno == EADDRNOTAVAIL)))
		xsUnknownError("%s group: %s", option == IPV6_JOIN_GROUP ? "join" : "leave", strerror(errno));
}

void xs_udp6_join(xsMachine *the)
{
	membership(the, IPV6_JOIN_GROUP);
}

void xs_udp6_leave(xsMachine *the)
{
	membership(the, IPV6_LEAVE_GROUP);
}

void xs_udp6_if_index(xsMachine *the)
{
	xsmcSetInteger(xsResult, if_nametoindex(xsmcToString(xsArg(0))));
}

void xs_udp6_if_name(xsMachine *the)
{
	char name[IF_NAMESIZE];
	if (if_indextoname(xsmcToInteger(xsArg(0)), name))
		xsmcSetString(xsResult, name);
}

static gboolean udp6Readable(gint fd, GIOCondition condition, gpointer refcon)
{
	Udp6 udp = refcon;
	xsMachine *the = udp->the;
	gboolean keep = TRUE;

	xsBeginHost(the);
	xsmcVars(1);
	while (udp->fd >= 0) {
		struct sockaddr_in6 from;
		char control[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct iovec iov;
		struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control, .msg_controllen = sizeof(control) };
		struct cmsghdr *cmsg;
		uint8_t *meta;
		uint32_t ifindex;
		int multicast = 0;
		ssize_t length;

		// Both pointers are fetched right before use: the chunk heap may move between callbacks.
		iov.iov_base = xsmcToArrayBuffer(udp->receive);
		iov.iov_len = xsmcGetArrayBufferLength(udp->receive);
		length = recvmsg(udp->fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
		if (length < 0)
			break;
		if ((size_t)length > iov.iov_len)
			continue;		// larger than the receive buffer: dropped whole, never truncated
		ifindex = from.sin6_scope_id;
		for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
			if ((cmsg->cmsg_level == IPPROTO_IPV6) && (cmsg->cmsg_type == IPV6_PKTINFO)) {
				struct in6_pktinfo info;
				c_memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
				ifindex = info.ipi6_ifindex;
				multicast = IN6_IS_ADDR_MULTICAST(&info.ipi6_addr);
			}
		}
		meta = xsmcToArrayBuffer(udp->meta);
		c_memcpy(meta, &from.sin6_addr, 16);
		meta[16] = ntohs(from.sin6_port) >> 8;
		meta[17] = ntohs(from.sin6_port) & 0xff;
		meta[18] = ifindex & 0xff;
		meta[19] = (ifindex >> 8) & 0xff;
		meta[20] = (ifindex >> 16) & 0xff;
		meta[21] = (ifindex >> 24) & 0xff;
		meta[22] = multicast;
		xsmcSetInteger(xsVar(0), (xsIntegerValue)length);
		xsTry {
			xsCall1(udp->obj, xsID_onPacket, xsVar(0));
		}
		xsCatch {
			xsTrace("udp6: onPacket threw\n");
		}
	}
	if (udp->fd < 0) {
		udp->source = 0;
		keep = FALSE;
	}
	xsEndHost(the);
	return keep;
}
