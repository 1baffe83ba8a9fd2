import { defineConfig } from 'vite';
import { serviceWorker } from './scripts/sw-plugin';

// `npm run dev` proxies the API and the socket to a running downbeatd (DOWNBEAT_URL,
// default https://127.0.0.1:8443 with its self-signed certificate).
const target = process.env.DOWNBEAT_URL ?? 'https://127.0.0.1:8443';

export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2020', sourcemap: false, assetsInlineLimit: 0 },
  plugins: [serviceWorker()],
  server: {
    proxy: {
      '/auth': { target, secure: false, changeOrigin: true },
      '/api': { target, secure: false, changeOrigin: true },
      '/ws': { target, secure: false, changeOrigin: true, ws: true },
    },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
