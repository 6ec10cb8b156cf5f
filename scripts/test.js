#!/usr/bin/env node
/**
 * Runs jest for `npm test`: test files one at a time, each in a jest worker process.
 *
 * @roamhq/wrtc (the WebRTC used by the test clients) occasionally dies with SIGSEGV in its
 * native code while many peer connections close or at process exit (see docs/media-engine.md).
 * Such a crash kills the jest worker and fails its whole file. Only those files are run once
 * more, and each retry is announced: the jest worker died by SIGSEGV (never SIGABRT or SIGBUS:
 * a V8 out-of-memory abort is a bug to fix, not to retry), and every test case of the file that
 * finished before the crash passed (jest's own result of a crashed file lists no test cases, so
 * scripts/jest-case-reporter.js, one of jest.config.js's reporters, records them as they finish). Any real failure fails the run as
 * is, and so does a second crash. The last line says how many files were retried.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const jest = path.join(__dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js');
const base = ['--maxWorkers=1', '--forceExit'];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-jest-'));
const report = path.join(tmp, 'results.json');
const cases = path.join(tmp, 'cases.json');

function runJest(args) {
  // See jest-hard-exit.js: no N-API teardown of wrtc objects at the end of a test process.
  const hardExit = `--require ${path.join(__dirname, 'jest-hard-exit.js')}`;
  const nodeOptions = [process.env.NODE_OPTIONS, hardExit].filter(Boolean).join(' ');
  const env = { ...process.env, MCU_JEST_CASES: cases, NODE_OPTIONS: nodeOptions };
  return spawnSync(process.execPath, [jest, ...base, ...args], { stdio: 'inherit', env }).status ?? 1;
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** The slowest test cases of the run: where the suite's time budget (~15 min) goes. */
function printSlowest(results, count = 12) {
  const all = [];
  for (const file of results?.testResults ?? [])
    for (const c of file.assertionResults ?? [])
      if (typeof c.duration === 'number')
        all.push({ ms: c.duration, where: `${path.relative(process.cwd(), file.name)}: ${c.title}` });
  all.sort((a, b) => b.ms - a.ms);
  for (const c of all.slice(0, count))
    process.stderr.write(`[test] slow: ${(c.ms / 1000).toFixed(1)} s ${c.where.slice(0, 160)}\n`);
  // Whole files too: set-up and tear-down (servers, browsers) are part of a file's cost.
  const files = (results?.testResults ?? [])
    .filter((f) => typeof f.startTime === 'number' && typeof f.endTime === 'number')
    .map((f) => ({ ms: f.endTime - f.startTime, where: path.relative(process.cwd(), f.name) }))
    .sort((a, b) => b.ms - a.ms);
  for (const f of files.slice(0, count))
    process.stderr.write(`[test] slow file: ${(f.ms / 1000).toFixed(1)} s ${f.where}\n`);
}

function finish(code, retried) {
  printSlowest(readJson(report));
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stderr.write(`[test] ${retried} test file(s) retried after a SIGSEGV of their jest worker\n`);
  process.exit(code);
}

const status = runJest(['--json', `--outputFile=${report}`, ...process.argv.slice(2)]);
if (status === 0) finish(0, 0);
const results = readJson(report);
const finished = readJson(cases) ?? {};
// No report: jest itself failed (e.g. the global teardown found unexpected worker deaths).
if (!results) finish(status, 0);

const failed = results.testResults.filter((t) => t.status === 'failed');
const crashedBySegv = (t) =>
  /terminated by another process: signal=SIGSEGV\b/.test(t.message) &&
  (finished[t.name] ?? []).every((c) => c.status !== 'failed');
const retry = failed.filter(crashedBySegv);
if (retry.length === 0 || retry.length !== failed.length) finish(status, 0);
for (const t of retry) {
  const passed = (finished[t.name] ?? []).length;
  process.stderr.write(
    `[test] retrying ${path.relative(process.cwd(), t.name)}: its jest worker died by SIGSEGV ` +
      `(native crash in @roamhq/wrtc) after ${passed} passing test(s)\n`,
  );
}
finish(runJest(['--runTestsByPath', ...retry.map((t) => t.name)]), retry.length);
