/**
 * A jest reporter for scripts/test.js: writes, per test file, the outcome of every test case as
 * jest reports it during the run (onTestCaseResult arrives from the jest worker as each test
 * finishes). When a jest worker crashes, jest's own result for that file has no test cases at
 * all; this record still holds the ones that finished before the crash, so scripts/test.js can
 * tell "crashed after passing tests" from "crashed after a failed one".
 * Output file: $MCU_JEST_CASES.
 */
'use strict';
const fs = require('node:fs');

class CaseReporter {
  constructor() {
    this.file = process.env.MCU_JEST_CASES;
    this.cases = {};
  }

  onTestCaseResult(test, result) {
    (this.cases[test.path] ??= []).push({ name: result.fullName, status: result.status });
  }

  onRunComplete() {
    if (this.file) fs.writeFileSync(this.file, JSON.stringify(this.cases));
  }
}

module.exports = CaseReporter;
