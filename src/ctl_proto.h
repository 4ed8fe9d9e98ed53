/*
 * ctl_proto.h -- what the control socket (control.c) and its reader
 * wsbridge-top (ui/model.c) agree on: the per-connection snapshot row's
 * columns, in order, and how the compression ratio is computed.
 */
#ifndef CTL_PROTO_H
#define CTL_PROTO_H

#include <stdint.h>

/* The snapshot row ("cols"), in this order. */
#define CTL_PROTO_COLS							\
	"id", "state", "bytes_in", "bytes_out", "msgs_in", "msgs_out",	\
	"largest_in", "largest_out", "rate_in", "rate_out", "mrate_in",	\
	"mrate_out", "q_out", "q_kernel", "q_in", "stall_out_ns",	\
	"stall_in_ns", "stall_max_ns", "ctl_wait_ns", "ctl_wait_max_ns", \
	"inflight_msg", "inflight_size", "inflight_sent",		\
	"inflight_complete", "h2_wait_ns", "transfer_max_ns",		\
	"delay_max_ns", "hol_msg", "hol_msg_size", "wire_in", "wire_out", \
	"plain_in", "plain_out", "zmsgs_in", "zmsgs_out", "zratio_in",	\
	"zratio_out", "zratio"
#define CTL_PROTO_NCOLS	38
_Static_assert(sizeof((const char *[]){ CTL_PROTO_COLS }) /
    sizeof(const char *) == CTL_PROTO_NCOLS, "CTL_PROTO_NCOLS counts them");

/*
 * Compression ratio in thousandths: plain payload bytes per wire payload
 * byte, over every data message that way (those sent uncompressed count
 * 1:1), so it is what the bandwidth saved says. 0 while no message that
 * way was compressed: "not compressed" is not "ratio 1.0".
 */
static inline uint64_t
ctl_proto_zratio(uint64_t plain, uint64_t wire, uint64_t zmsgs)
{
	if (zmsgs == 0 || wire == 0)
		return (0);
	return ((uint64_t)((double)plain * 1000 / (double)wire + 0.5));
}

#endif
