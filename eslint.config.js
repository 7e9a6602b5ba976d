import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/**
 * The Node entries: the origin process, its config and metrics, the CLI, the Node WASM loaders (the
 * revocation kernel's and the Cedar engine's).
 */
const NODE_ONLY = [
  'src/entry/node*.ts',
  'src/entry/origin*.ts',
  'src/entry/password.ts',
  'src/cli/**',
  'src/wasm/load-node.ts',
  'src/policy/engine-node.ts',
]
const NODE_MESSAGE = 'Node-only: allowed in the Node entries (eslint.config.js NODE_ONLY) alone.'
const NODE_PACKAGES = ['prom-client', '@hono/node-server', '@hono/node-server/conninfo'].map(
  (name) => ({ name, message: NODE_MESSAGE }),
)
const NODE_PATTERNS = [
  { group: ['node:*'], message: NODE_MESSAGE },
  {
    group: [
      '**/entry/node*',
      '**/entry/origin*',
      '**/entry/password*',
      '**/wasm/load-node*',
      '**/policy/engine-node*',
      '**/cli/*',
    ],
    message: NODE_MESSAGE,
  },
]

export default tseslint.config(
  { ignores: ['node_modules', '.wrangler', 'dist', 'coverage', 'bench/results', 'bench/.work'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { console: 'readonly', process: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Runtime boundaries (docs/architecture.md, Layout). Everything the Worker can reach runs in
    // workerd without nodejs_compat: no node:*, no prom-client, no Node server, and nothing that
    // imports them. Only the Node entries below may.
    files: ['src/**/*.ts'],
    ignores: NODE_ONLY,
    rules: {
      'no-restricted-imports': ['error', { paths: NODE_PACKAGES, patterns: NODE_PATTERNS }],
    },
  },
  {
    // Docs snippets (README, docs/) may import names to show them without using them.
    files: ['docs/examples/**'],
    rules: { '@typescript-eslint/no-unused-vars': 'off' },
  },
  {
    // core/ is runtime-free and depends on nothing of ours: no hono either.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: NODE_PACKAGES,
          patterns: [
            ...NODE_PATTERNS,
            { group: ['hono', 'hono/*'], message: 'core/ knows no HTTP framework.' },
            {
              group: ['**/http/*', '**/entry/*', '**/store/*', '**/cache/*', '**/revocation/*'],
              message: 'core/ depends on nothing of ours (dependencies point inward).',
            },
          ],
        },
      ],
    },
  },
)
