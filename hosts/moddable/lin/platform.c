/* hosts/moddable/platform.ts on Linux: CLOCK_MONOTONIC and getrandom(2) (the kernel CSPRNG). */

#include "xsmc.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

void xs_moddable_monotonic(xsMachine *the)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	xsmcSetNumber(xsResult, ((double)now.tv_sec * 1000.0) + ((double)now.tv_nsec / 1000000.0));
}

void xs_moddable_random(xsMachine *the)
{
	void *data;
	xsUnsignedValue length;
	uint8_t *p;

	xsmcGetBufferWritable(xsArg(0), &data, &length);
	p = data;
	while (length) {
		ssize_t got = getrandom(p, length, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			xsUnknownError("getrandom: %s", strerror(errno));
		}
		p += got;
		length -= got;
	}
}
