import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Who may import whom (docs/architecture.md). Paths are relative imports, so a pattern matches
 * any number of `../` in front of the folder it names.
 */
const up = '^(\\.\\./)+';
const rules = {
  src: [`${up}src(/|$)`, 'workers/ never imports the control plane (src/): each side deploys alone.'],
  media: [
    `${up}media(/|$)`,
    'the media engine is its own process: share through workers/kernel or workers/protocol.',
  ],
  recording: [
    `${up}recording(/|$)`,
    'the recording worker is its own process: share through workers/kernel or workers/protocol.',
  ],
  kernel: [`${up}kernel(/|$)`, 'the catalogue (workers/protocol) depends on nothing.'],
  node: ['^node:', 'the catalogue is bundled into the browser pages: no Node modules.'],
  engines: [
    `${up}workers/(media|recording)(/|$)`,
    'the control plane talks to workers through workers/protocol and shares only workers/kernel.',
  ],
  browser: [
    `${up}(src|workers/(?!protocol/))`,
    'the browser pages share only the catalogue (workers/protocol).',
  ],
};
const boundary = (files, names) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: names.map((n) => ({ regex: rules[n][0], message: rules[n][1] })) },
    ],
  },
});

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'recordings/**',
      'data/**',
      'coverage/**',
      'test-artifacts/**',
      'public/dist/**',
      'native/**/build/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
      // Configuration is parsed once, in src/config (see STYLE.md).
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: "Read configuration through the process's config module only.",
        },
      ],
    },
  },
  { files: ['public/src/**'], languageOptions: { globals: { ...globals.browser } } },
  {
    // Each process kind parses its environment in its one config module.
    files: [
      'src/config/**',
      'workers/recording/config.ts',
      'scripts/**',
      'test/**',
      'bench/**',
      'jest.config.js',
    ],
    rules: { 'no-restricted-properties': 'off' },
  },
  boundary(['src/**'], ['engines']),
  boundary(['workers/protocol/**'], ['src', 'media', 'recording', 'kernel', 'node']),
  boundary(['workers/kernel/**'], ['src', 'media', 'recording']),
  boundary(['workers/media/**'], ['src', 'recording']),
  boundary(['workers/recording/**'], ['src', 'media']),
  boundary(['public/src/**'], ['browser']),
);
