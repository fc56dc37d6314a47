/*
 * Noble calls `new TextEncoder()` while its modules load, and Moddable has no such global: install
 * the SDK's text/encoder before main imports noble (module bodies run in import order).
 */

import TextEncoder from "text/encoder";

(globalThis as { TextEncoder?: unknown }).TextEncoder ??= TextEncoder;
