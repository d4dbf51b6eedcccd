// Lint for the sources and tests (`npm run lint`; CI runs it). Run from the package root:
// with --config, ESLint reads the `files` patterns below relative to the working directory.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'native/build/**', 'bench/results/**', 'bench/.peers/**', '**/*.tmp.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // A leading underscore marks a parameter or binding kept for its position or its type.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  {
    // The dashboard's page scripts run in the browser, as ES modules, beside uPlot's global.
    files: ['core/server/dashboard/public/**/*.js'],
    languageOptions: { sourceType: 'module', globals: { ...globals.browser, uPlot: 'readonly' } },
  },
  {
    // Tests read JSON answers field by field; the sources may not use `any`.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Core is the library: it imports no plugin, benchmark, CLI or engine model. The composition
    // root (bin/) joins them.
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/plugins/**'], message: 'core imports no plugin: bin/plugins.ts registers them' },
          { group: ['**/bench/**'], message: 'core imports nothing from bench/: the composition root (bin/) does' },
          { group: ['**/bin/**'], message: 'core imports nothing from the composition root (bin/)' },
          { group: ['**/native/**'], message: 'core imports nothing from native/: the engine model is an engine, reached through a plugin' },
        ],
      }],
      'no-restricted-syntax': ['error', {
        selector: 'ImportExpression[source.value=/(^|\\/)(plugins|bench|bin|native)\\//]',
        message: 'core imports nothing from plugins/, bench/, bin/ or native/, not even lazily: the composition root (bin/) does',
      }],
    },
  },
);
