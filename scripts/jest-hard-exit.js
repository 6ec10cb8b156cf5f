'use strict';
/**
 * Preloaded into jest and its workers by scripts/test.js (NODE_OPTIONS=--require).
 *
 * A test process holds @roamhq/wrtc peers (the test clients) and node-datachannel peers. When its
 * event loop empties and Node tears the environment down (FreeEnvironment), wrtc's N-API
 * finalizers run for every object still alive and call back into V8 without a handle scope:
 * "FATAL ERROR: HandleScope::CreateHandle" and an abort, after every test has passed (seen in
 * the disk-full spec). Leaving through process.exit() at that point skips that teardown: the
 * process has nothing left to do, so nothing is lost. A real crash before that point still
 * kills the process by its signal and fails the run.
 */
process.once('beforeExit', (code) => process.exit(code));
