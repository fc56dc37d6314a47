/*
 * hosts/moddable/platform.ts on ESP32 (ESP-IDF): esp_timer (microseconds since boot, monotonic) and
 * esp_fill_random, the hardware RNG (true random while the radio runs; ESP-IDF documents the
 * conditions for its entropy). UNVERIFIED: written to the lin variant's contract, not compiled here.
 */

#include "xsmc.h"

#include "esp_random.h"
#include "esp_timer.h"

void xs_moddable_monotonic(xsMachine *the)
{
	xsmcSetNumber(xsResult, (double)esp_timer_get_time() / 1000.0);
}

void xs_moddable_random(xsMachine *the)
{
	void *data;
	xsUnsignedValue length;

	xsmcGetBufferWritable(xsArg(0), &data, &length);
	esp_fill_random(data, length);
}
