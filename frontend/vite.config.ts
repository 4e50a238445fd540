/// <reference types="vitest/config" />
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Vite empties dist/ before every build, which would delete the committed
// dist/.gitkeep that lets `//go:embed all:dist` compile before the frontend is
// built. Put it back so a build leaves `git status` clean.
function keepGitkeep(outDir: string): Plugin {
  return {
    name: 'backless-keep-gitkeep',
    apply: 'build',
    writeBundle() {
      writeFileSync(resolve(outDir, '.gitkeep'), '');
    },
  };
}

// The Go server listens here during development (`npm run dev` proxies to it).
const backend = process.env.BACKLESS_DEV_BACKEND ?? 'http://127.0.0.1:8080';
const outDir = resolve(import.meta.dirname, 'dist');

export default defineConfig({
  plugins: [svelte(), keepGitkeep(outDir)],
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    // Everything is local: the app must work offline and inside the desktop shell.
    assetsInlineLimit: 4096,
    reportCompressedSize: true,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: backend, changeOrigin: true },
      '/ws': { target: backend, changeOrigin: true, ws: true },
    },
  },
  preview: {
    host: '127.0.0.1',
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
