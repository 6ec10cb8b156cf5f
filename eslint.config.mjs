import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

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
        { object: 'process', property: 'env', message: 'Read configuration through src/config only.' },
      ],
    },
  },
  { files: ['public/src/**'], languageOptions: { globals: { ...globals.browser } } },
  {
    files: ['src/config/**', 'scripts/**', 'test/**', 'bench/**', 'jest.config.js'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
