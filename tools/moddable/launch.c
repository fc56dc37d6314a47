/*
 * Runs a Moddable `lin` build without the simulator's window. A lin build is a shared library
 * (mc.so) that the GUI simulator (mcsim) loads and drives through a txScreen: fxScreenLaunch
 * creates the XS machine from the preloaded archive and runs main; the library's timers, promise
 * jobs and our native sockets are glib sources on the default main context. So this launcher gives
 * it a 1×1 screen whose start/stop drive the idle callback from a glib timeout, and runs the glib
 * main loop until SIGINT/SIGTERM, when it quits the machine (closing its sockets) and exits 0.
 *
 * Build: cc -DmxLinux=1 -I$MODDABLE/build/simulators/modules launch.c $(pkg-config --cflags --libs glib-2.0) -ldl
 * Run:   launch path/to/mc.so
 */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <glib.h>
#include <glib-unix.h>
#include "screen.h"

static GMainLoop *loop;
static guint idleSource;

static void screenAbort(txScreen *screen, int status)
{
	fprintf(stderr, "launch: machine aborted (status %d)\n", status);
	fflush(stdout);
	exit(2);
}

static void screenBufferChanged(txScreen *screen) {}
static void screenFormatChanged(txScreen *screen) {}
static void screenPost(txScreen *screen, char *buffer, int size) {}

static gboolean screenTick(gpointer data)
{
	txScreen *screen = data;
	if (screen->idle)
		(*screen->idle)(screen);
	return G_SOURCE_CONTINUE;
}

static void screenStart(txScreen *screen, double interval)
{
	if (!idleSource)
		idleSource = g_timeout_add(interval < 1 ? 1 : (guint)interval, screenTick, screen);
}

static void screenStop(txScreen *screen)
{
	if (idleSource) {
		g_source_remove(idleSource);
		idleSource = 0;
	}
}

static gboolean onSignal(gpointer data)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
	void *library;
	txScreenLaunchProc launch;
	txScreen *screen;

	if (argc != 2) {
		fprintf(stderr, "usage: launch path/to/mc.so\n");
		return 64;
	}
	library = dlopen(argv[1], RTLD_NOW);
	if (!library) {
		fprintf(stderr, "launch: %s\n", dlerror());
		return 1;
	}
	launch = (txScreenLaunchProc)dlsym(library, "fxScreenLaunch");
	if (!launch) {
		fprintf(stderr, "launch: %s\n", dlerror());
		return 1;
	}
	screen = calloc(1, sizeof(txScreen) - 1 + screenBytesPerPixel);
	if (!screen)
		return 1;
	screen->width = 1;
	screen->height = 1;
	screen->abort = screenAbort;
	screen->bufferChanged = screenBufferChanged;
	screen->formatChanged = screenFormatChanged;
	screen->post = screenPost;
	screen->start = screenStart;
	screen->stop = screenStop;
	mxCreateMutex(&screen->workersMutex);

	setvbuf(stdout, NULL, _IOLBF, 0);
	loop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGINT, onSignal, NULL);
	g_unix_signal_add(SIGTERM, onSignal, NULL);
	(*launch)(screen);
	if (!screen->machine) {
		fprintf(stderr, "launch: the machine did not start\n");
		return 1;
	}
	g_main_loop_run(loop);
	if (screen->quit)
		(*screen->quit)(screen);
	return 0;
}
