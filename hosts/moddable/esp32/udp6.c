/*
 * IPv6 UDP for the Moddable host on ESP32 (ESP-IDF's lwIP), to the same JS contract as lin/udp6.c
 * (see there and hosts/moddable/udp.ts): bind on a netif, link-local zones as netif indexes
 * (netif_get_index: netif->num + 1), MLD joins and leaves of ff02::fd / ff05::fd on one netif
 * (mld6_joingroup_netif, RFC 3810), and per datagram the source, its port, the arrival netif index
 * and whether the destination was multicast, written into the ArrayBuffers the JS side keeps for
 * the socket's life; send() returns 0 or a negative lwIP err_t and never throws.
 *
 * UNVERIFIED: written against lwIP 2.1's raw UDP API and ESP-IDF 5.x, not compiled here (there is no
 * ESP-IDF in this environment) and not run on hardware.
 *
 * Threads: lwIP's raw API belongs to the tcpip thread. Every call into it goes through
 * tcpip_api_call (the XS task blocks until it ran, so pointers into the XS heap stay put), as the
 * SDK's modLwipSafe.c does. The receive callback runs in the tcpip thread and must not touch XS: it
 * parks the pbuf and its metadata in a fixed ring (no allocation per datagram; a full ring drops
 * the datagram, as a full socket buffer would) and posts one message to the machine, whose handler
 * copies each datagram into the receive buffer and calls onPacket.
 *
 * Needs LWIP_IPV6, LWIP_IPV6_MLD, LWIP_IPV6_SCOPES and LWIP_NETIF_API-level netif index helpers
 * (lwIP 2.1: netif_name_to_index, netif_index_to_name, udp_bind_netif), all in ESP-IDF's lwIP.
 */

#include "xsmc.h"
#include "xsHost.h"
#include "mc.xs.h"

#include "lwip/udp.h"
#include "lwip/mld6.h"
#include "lwip/netif.h"
#include "lwip/ip.h"
#include "lwip/priv/tcpip_priv.h"

#include "freertos/FreeRTOS.h"

#define META_BYTES 23
/** Datagrams parked between the tcpip thread and the XS task; more are dropped. */
#define PENDING 8

typedef struct {
	struct pbuf *p;
	u8_t source[16];
	u16_t port;
	u8_t ifindex;
	u8_t multicast;
} Pending;

typedef struct {
	struct udp_pcb *pcb;
	xsMachine *the;
	xsSlot obj;
	xsSlot receive;
	xsSlot meta;
	u16_t port;
	u8_t ifindex;
	u8_t closed;
	/** A delivery message is queued for the machine (set by the tcpip thread, cleared by the XS task). */
	u8_t posted;
	/** Ring of parked datagrams: head is read by the XS task, count is shared; both under `lock`. */
	u8_t head;
	u8_t count;
	u32_t dropped;
	portMUX_TYPE lock;
	Pending pending[PENDING];
} Udp6Record, *Udp6;

/* One request into the tcpip thread: the fields each operation uses. */
typedef struct {
	struct tcpip_api_call_data call;
	Udp6 udp;
	ip_addr_t addr;
	u16_t port;
	u8_t ifindex;
	const void *data;
	u16_t length;
	err_t err;
} Udp6Call;

static void udp6Mark(xsMachine *the, void *it, xsMarkRoot markRoot);
static void udp6Receive(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port);
static void udp6Deliver(void *the, void *refcon, uint8_t *message, uint16_t messageLength);

static const xsHostHooks ICACHE_RODATA_ATTR udp6Hooks = { xs_udp6_destructor, udp6Mark, NULL };

/* ---------------------------------------------------------------- in the tcpip thread */

/* The call's netif (NULL for index 0); scoped addresses (link-local, ff02::) get it as their zone. */
static err_t scopeTo(Udp6Call *c, struct netif **netif)
{
	*netif = NULL;
	if (!c->ifindex)
		return ERR_OK;
	*netif = netif_get_by_index(c->ifindex);
	if (!*netif)
		return ERR_IF;
	ip6_addr_assign_zone(ip_2_ip6(&c->addr), IP6_UNKNOWN, *netif);
	return ERR_OK;
}

static err_t bindInLwip(struct tcpip_api_call_data *call)
{
	Udp6Call *c = (Udp6Call *)call;
	Udp6 udp = c->udp;
	struct netif *netif;

	udp->pcb = udp_new_ip_type(IPADDR_TYPE_V6);
	if (!udp->pcb) {
		c->err = ERR_MEM;
		return ERR_OK;
	}
	c->err = scopeTo(c, &netif);
	if (c->err != ERR_OK)
		return ERR_OK;
	if (netif) {
		// A zone means "this interface" for the wildcard and for group addresses too (as
		// SO_BINDTODEVICE on lin): datagrams arriving on other netifs are not delivered.
		udp_bind_netif(udp->pcb, netif);
#if LWIP_MULTICAST_TX_OPTIONS
		udp_set_multicast_netif_index(udp->pcb, c->ifindex);
#endif
	}
	c->err = udp_bind(udp->pcb, &c->addr, c->port);
	if (c->err == ERR_OK) {
		udp->port = udp->pcb->local_port;
		udp_recv(udp->pcb, udp6Receive, udp);
	}
	return ERR_OK;
}

static err_t removeInLwip(struct tcpip_api_call_data *call)
{
	Udp6Call *c = (Udp6Call *)call;
	Udp6 udp = c->udp;
	if (udp->pcb) {
		udp_remove(udp->pcb);
		udp->pcb = NULL;
	}
	while (udp->count) {
		pbuf_free(udp->pending[udp->head].p);
		udp->head = (udp->head + 1) % PENDING;
		udp->count--;
	}
	return ERR_OK;
}

static err_t sendInLwip(struct tcpip_api_call_data *call)
{
	Udp6Call *c = (Udp6Call *)call;
	struct pbuf *p;
	struct netif *netif;

	if (!c->udp->pcb) {
		c->err = ERR_CLSD;
		return ERR_OK;
	}
	c->err = scopeTo(c, &netif);
	if (c->err != ERR_OK)
		return ERR_OK;
	p = pbuf_alloc(PBUF_TRANSPORT, c->length, PBUF_RAM);
	if (!p) {
		c->err = ERR_MEM;
		return ERR_OK;
	}
	c_memcpy(p->payload, c->data, c->length);
	c->err = netif ? udp_sendto_if(c->udp->pcb, p, &c->addr, c->port, netif) : udp_sendto(c->udp->pcb, p, &c->addr, c->port);
	pbuf_free(p);
	return ERR_OK;
}

static err_t joinInLwip(struct tcpip_api_call_data *call)
{
	Udp6Call *c = (Udp6Call *)call;
	struct netif *netif = netif_get_by_index(c->ifindex);
	c->err = netif ? mld6_joingroup_netif(netif, ip_2_ip6(&c->addr)) : ERR_IF;
	return ERR_OK;
}

static err_t leaveInLwip(struct tcpip_api_call_data *call)
{
	Udp6Call *c = (Udp6Call *)call;
	struct netif *netif = netif_get_by_index(c->ifindex);
	c->err = netif ? mld6_leavegroup_netif(netif, ip_2_ip6(&c->addr)) : ERR_IF;
	return ERR_OK;
}

static err_t freeInLwip(struct tcpip_api_call_data *call)
{
	Udp6Call *c = (Udp6Call *)call;
	pbuf_free((struct pbuf *)c->data);
	return ERR_OK;
}

static err_t indexInLwip(struct tcpip_api_call_data *call)
{
	Udp6Call *c = (Udp6Call *)call;
	c->ifindex = netif_name_to_index((const char *)c->data);
	return ERR_OK;
}

static err_t nameInLwip(struct tcpip_api_call_data *call)
{
	Udp6Call *c = (Udp6Call *)call;
	c->err = netif_index_to_name(c->ifindex, (char *)c->data) ? ERR_OK : ERR_IF;
	return ERR_OK;
}

/* Parks one datagram; the XS task takes it in udp6Deliver. */
static void udp6Receive(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	Udp6 udp = arg;
	struct netif *netif = ip_current_input_netif();
	int post = 0;

	if (!IP_IS_V6(addr)) {
		pbuf_free(p);
		return;
	}
	portENTER_CRITICAL(&udp->lock);
	if (udp->closed || (udp->count == PENDING)) {
		udp->dropped++;
		portEXIT_CRITICAL(&udp->lock);
		pbuf_free(p);
		return;
	}
	Pending *slot = &udp->pending[(udp->head + udp->count) % PENDING];
	slot->p = p;
	c_memcpy(slot->source, ip_2_ip6(addr)->addr, 16);		// lwIP keeps IPv6 addresses in network byte order
	slot->port = port;
	slot->ifindex = netif ? netif_get_index(netif) : 0;
	slot->multicast = ip6_addr_ismulticast(ip6_current_dest_addr()) ? 1 : 0;
	udp->count++;
	if (!udp->posted) {
		udp->posted = 1;
		post = 1;
	}
	portEXIT_CRITICAL(&udp->lock);
	if (post)
		modMessagePostToMachine(udp->the, NULL, 0, udp6Deliver, udp);
}

/* ---------------------------------------------------------------- in the XS task */

static void call(tcpip_api_call_fn fn, Udp6Call *c)
{
	c->err = ERR_OK;
	tcpip_api_call(fn, &c->call);
}

/* "" is the unspecified address; anything else must be IPv6 text (no zone: zones travel as indexes). */
static int parseAddress(const char *text, ip_addr_t *out)
{
	if (!text[0]) {
		*out = *IP6_ADDR_ANY;
		return 1;
	}
	if (!ip6addr_aton(text, ip_2_ip6(out)))
		return 0;
	ip6_addr_clear_zone(ip_2_ip6(out));
	IP_SET_TYPE_VAL(*out, IPADDR_TYPE_V6);
	return 1;
}

void xs_udp6_destructor(void *data)
{
	Udp6 udp = data;
	if (!udp) return;
	if (udp->pcb) {
		Udp6Call c = { .udp = udp };
		call(removeInLwip, &c);
	}
	// A delivery message still queued frees the record when it runs (it sees `closed`).
	portENTER_CRITICAL(&udp->lock);
	udp->closed = 1;
	int posted = udp->posted;
	portEXIT_CRITICAL(&udp->lock);
	if (!posted)
		c_free(udp);
}

static void udp6Mark(xsMachine *the, void *it, xsMarkRoot markRoot)
{
	Udp6 udp = it;
	(*markRoot)(the, &udp->receive);
	(*markRoot)(the, &udp->meta);
}

void xs_udp6_constructor(xsMachine *the)
{
	int port = xsmcToInteger(xsArg(1));
	int ifindex = xsmcToInteger(xsArg(2));
	Udp6Call c = { 0 };
	Udp6 udp;

	// xsArg(3), address reuse: lwIP matches each datagram to one pcb; SO_REUSE is not needed for
	// one socket per port, which is all the join proxy and the pledge open.
	if ((port < 0) || (port > 65535))
		xsRangeError("invalid port");
	if ((ifindex < 0) || (ifindex > 255))
		xsRangeError("invalid interface index");
	if (!parseAddress(xsmcToString(xsArg(0)), &c.addr))
		xsRangeError("invalid IPv6 address");
	if ((xsmcGetArrayBufferLength(xsArg(5)) < META_BYTES) || (xsmcGetArrayBufferLength(xsArg(4)) < 1))
		xsRangeError("buffers too small");

	udp = c_calloc(1, sizeof(Udp6Record));
	if (!udp)
		xsRangeError("no memory");
	portMUX_INITIALIZE(&udp->lock);
	udp->the = the;
	udp->obj = xsThis;
	udp->receive = xsArg(4);
	udp->meta = xsArg(5);
	udp->ifindex = ifindex;
	xsmcSetHostData(xsThis, udp);
	xsSetHostHooks(xsThis, (xsHostHooks *)&udp6Hooks);

	c.udp = udp;
	c.port = port;
	c.ifindex = ifindex;
	call(bindInLwip, &c);
	if (c.err != ERR_OK) {
		Udp6Call r = { .udp = udp };
		call(removeInLwip, &r);
		xsUnknownError("bind: lwIP error %d", c.err);
	}
	xsRemember(udp->obj);
}

static Udp6 udp6Get(xsMachine *the)
{
	Udp6 udp = xsmcGetHostDataValidate(xsThis, (void *)&udp6Hooks);
	if (!udp || udp->closed || !udp->pcb)
		xsUnknownError("closed");
	return udp;
}

void xs_udp6_close(xsMachine *the)
{
	Udp6 udp = xsmcGetHostData(xsThis);
	if (!udp || !xsmcGetHostDataValidate(xsThis, (void *)&udp6Hooks) || udp->closed)
		return;
	xsForget(udp->obj);
	xs_udp6_destructor(udp);
	xsmcSetHostData(xsThis, NULL);
	xsmcSetHostDestructor(xsThis, NULL);
}

void xs_udp6_port(xsMachine *the)
{
	xsmcSetInteger(xsResult, udp6Get(the)->port);
}

void xs_udp6_send(xsMachine *the)
{
	Udp6 udp = xsmcGetHostDataValidate(xsThis, (void *)&udp6Hooks);
	Udp6Call c = { .udp = udp };
	void *data;
	xsUnsignedValue available;
	int length = xsmcToInteger(xsArg(1));
	int port = xsmcToInteger(xsArg(3));
	int ifindex = xsmcToInteger(xsArg(4));

	if (!udp || udp->closed) {
		xsmcSetInteger(xsResult, ERR_CLSD);
		return;
	}
	xsmcGetBufferReadable(xsArg(0), &data, &available);
	if ((length < 0) || (length > 0xffff) || ((xsUnsignedValue)length > available) || (port <= 0) || (port > 65535) || (ifindex < 0) || (ifindex > 255)
		|| !parseAddress(xsmcToString(xsArg(2)), &c.addr)) {
		xsmcSetInteger(xsResult, ERR_ARG);
		return;
	}
	c.data = data;
	c.length = length;
	c.port = port;
	c.ifindex = ifindex;
	call(sendInLwip, &c);
	xsmcSetInteger(xsResult, c.err);
}

static void membership(xsMachine *the, tcpip_api_call_fn fn, int join)
{
	Udp6 udp = udp6Get(the);
	Udp6Call c = { .udp = udp };
	int ifindex = xsmcToInteger(xsArg(1));

	if (!parseAddress(xsmcToString(xsArg(0)), &c.addr) || !ip6_addr_ismulticast(ip_2_ip6(&c.addr)))
		xsRangeError("not a multicast address");
	if ((ifindex <= 0) || (ifindex > 255))
		xsRangeError("a group is joined on one interface");
	c.ifindex = ifindex;
	call(fn, &c);
	// Leaving a group not joined is not an error (as EADDRNOTAVAIL on lin).
	if ((c.err != ERR_OK) && (join || (c.err != ERR_VAL)))
		xsUnknownError("%s group: lwIP error %d", join ? "join" : "leave", c.err);
}

void xs_udp6_join(xsMachine *the)
{
	membership(the, joinInLwip, 1);
}

void xs_udp6_leave(xsMachine *the)
{
	membership(the, leaveInLwip, 0);
}

void xs_udp6_if_index(xsMachine *the)
{
	Udp6Call c = { .data = xsmcToString(xsArg(0)) };
	call(indexInLwip, &c);
	xsmcSetInteger(xsResult, c.ifindex);
}

void xs_udp6_if_name(xsMachine *the)
{
	char name[NETIF_NAMESIZE];
	int index = xsmcToInteger(xsArg(0));
	Udp6Call c = { .data = name };
	if ((index <= 0) || (index > 255))
		return;
	c.ifindex = index;
	call(nameInLwip, &c);
	if (c.err == ERR_OK)
		xsmcSetString(xsResult, name);
}

static void udp6Deliver(void *the, void *refcon, uint8_t *message, uint16_t messageLength)
{
	Udp6 udp = refcon;

	portENTER_CRITICAL(&udp->lock);
	udp->posted = 0;
	int closed = udp->closed;
	portEXIT_CRITICAL(&udp->lock);
	if (closed) {
		c_free(udp);		// the destructor left it to this message
		return;
	}

	xsBeginHost(the);
	xsmcVars(1);
	for (;;) {
		Pending taken;
		portENTER_CRITICAL(&udp->lock);
		if (udp->closed || !udp->count) {
			portEXIT_CRITICAL(&udp->lock);
			break;
		}
		taken = udp->pending[udp->head];
		udp->head = (udp->head + 1) % PENDING;
		udp->count--;
		portEXIT_CRITICAL(&udp->lock);

		// Both pointers are fetched right before use: the chunk heap may move between callbacks.
		xsUnsignedValue room = xsmcGetArrayBufferLength(udp->receive);
		u16_t length = taken.p->tot_len;
		if (length <= room) {		// larger than the receive buffer: dropped whole, never truncated
			uint8_t *meta;
			pbuf_copy_partial(taken.p, xsmcToArrayBuffer(udp->receive), length, 0);
			meta = xsmcToArrayBuffer(udp->meta);
			c_memcpy(meta, taken.source, 16);
			meta[16] = taken.port >> 8;
			meta[17] = taken.port & 0xff;
			meta[18] = taken.ifindex;
			meta[19] = 0;
			meta[20] = 0;
			meta[21] = 0;
			meta[22] = taken.multicast;
		}
		Udp6Call release = { .udp = udp, .data = taken.p };
		call(freeInLwip, &release);		// pbufs are freed in the tcpip thread
		if (length > room)
			continue;
		xsmcSetInteger(xsVar(0), length);
		xsTry {
			xsCall1(udp->obj, xsID_onPacket, xsVar(0));
		}
		xsCatch {
			xsTrace("udp6: onPacket threw\n");
		}
	}
	xsEndHost(the);
}
