/** Three tiers (see test/README.md): unit specs fake I/O; integration and e2e use real
 * processes, real Redis, real ffmpeg, real wrtc peers and (e2e) a real Chromium. */
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
};
module.exports = {
  testTimeout: 180000,
  // Test files run one at a time (a 2-core machine also runs the servers, workers and ffmpeg
  // under test) but each in a jest worker process, never in jest's own: @roamhq/wrtc keeps
  // native threads that can crash a process at exit, and a fresh worker per file (recycled
  // above this memory) keeps one file's peer connections from outliving it.
  workerIdleMemoryLimit: '256MB',
  // The case reporter lets scripts/test.js see which tests of a crashed file had passed.
  reporters: ['default', '<rootDir>/scripts/jest-case-reporter.js'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.spec.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.spec.ts'] },
  ],
};
