/*
 * The two things the Host needs from the platform that Moddable's modules do not give as required:
 * a monotonic millisecond clock (Time.ticks is gettimeofday on lin) and strong randomness (the `rng`
 * module is RC4 seeded by c_rand, which is libc rand() on some ports). Implemented natively per
 * platform: lin/platform.c (CLOCK_MONOTONIC, getrandom), esp32/platform.c (esp_timer, the hardware RNG).
 */

/** Milliseconds from a monotonic clock (fractional). */
export const monotonicMs: () => number = native("xs_moddable_monotonic");

/** Fills the whole view with bytes from the platform's cryptographic RNG; throws if it cannot. */
export const fillRandom: (bytes: Uint8Array) => void = native("xs_moddable_random");
