// Lint config (ESLint 9 flat config): typescript-eslint's recommended rules without type information
// (fast enough to run before every merge), and lines of at most 140 characters.
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  {
    files: ['src/**/*.{ts,mts,js,mjs}', 'test/**/*.{ts,mts,js,mjs}', 'bench/**/*.{ts,js,mjs}', 'scripts/**/*.{ts,js,mjs}', '*.{js,ts}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': ['error', { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true }],
      '@typescript-eslint/no-explicit-any': 'warn',
      // Mail and HTTP input is escaped or refused by control character on purpose (src/security).
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Redis clients are closed with closeRedis: disconnect() rejects the replies still awaited ("Connection is closed"),
    // which became an unhandled rejection in BullMQ at shutdown once.
    files: ['src/**/*.ts'],
    ignores: ['src/queue/redis.ts'],
    rules: {
      'no-restricted-properties': ['error', { property: 'disconnect', message: 'close Redis clients with closeRedis (queue/redis.ts)' }],
    },
  },
);
