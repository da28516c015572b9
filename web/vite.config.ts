import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// Built into dist/web by src/modules/dashboard/build.ts (at `npm start` when the sources changed).
export default defineConfig({
  root: import.meta.dirname,
  // No devtools hooks or source paths in the shipped bundle.
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
  },
  logLevel: 'warn',
});
