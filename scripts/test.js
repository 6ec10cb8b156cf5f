#!/usr/bin/env node
/**
 * Runs jest for `npm test`: test files one at a time, each in a jest worker process.
 *
 * @roamhq/wrtc (the WebRTC used by the test clients) occasionally dies with SIGSEGV in its
 * native code while many peer connections close or at process exit (seen here ~1 run in 5; see
 * docs/media-engine.md). Such a crash kills the jest worker and fails its whole file without a
 * single assertion failing. Only those files — crashed by a signal, with no failed assertion —
 * are run once more, and the retry is announced. Any real test failure fails the run as is.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const jest = path.join(__dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js');
const args = ['--maxWorkers=1', '--forceExit', ...process.argv.slice(2)];
const report = path.join(os.tmpdir(), `mcu-jest-${process.pid}.json`);

function runJest(extra) {
  return spawnSync(process.execPath, [jest, ...args, ...extra], { stdio: 'inherit' }).status ?? 1;
}

const status = runJest(['--json', `--outputFile=${report}`]);
if (status === 0) process.exit(0);
let results;
try {
  results = JSON.parse(fs.readFileSync(report, 'utf8'));
  fs.rmSync(report, { force: true });
} catch {
  process.exit(status);
}
const failed = results.testResults.filter((t) => t.status === 'failed');
const crashed = failed.filter(
  (t) =>
    /terminated by another process: signal=SIG(SEGV|ABRT|BUS)/.test(t.message) &&
    t.assertionResults.every((a) => a.status !== 'failed'),
);
if (crashed.length === 0 || crashed.length !== failed.length) process.exit(status);
process.stderr.write(
  `\n[test] ${crashed.length} test file(s) lost their jest worker to a native crash in @roamhq/wrtc; ` +
    `running them once more:\n${crashed.map((t) => `  ${path.relative(process.cwd(), t.name)}`).join('\n')}\n\n`,
);
process.exit(runJest(crashed.map((t) => t.name)));
