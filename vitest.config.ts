import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['bench/**/*.test.ts', 'generator/**/*.test.ts', 'templates/runtime/**/*.test.ts', 'test/**/*.test.ts', 'cli.test.ts'],
    exclude: ['node_modules/**', 'generated/**', 'test/.work/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
