import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

// `npm run dev` proxies the API and the socket to a running downbeatd (DOWNBEAT_URL,
// default https://127.0.0.1:8443 with its self-signed certificate).
const target = process.env.DOWNBEAT_URL ?? 'https://127.0.0.1:8443';

export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2020', sourcemap: false, assetsInlineLimit: 0 },
  plugins: [
    // The service worker (Workbox, generated at build time) keeps the app shell so the page opens
    // without the network; IndexedDB (src/persist.ts) keeps the last room state.
    VitePWA({
      strategies: 'generateSW',
      registerType: 'autoUpdate',
      injectRegister: null, // registered in src/main.tsx through virtual:pwa-register
      manifest: false, // public/manifest.webmanifest is the manifest, linked from index.html
      workbox: {
        // chart.wasm (core/chart, the ChordPro parser) and timing.wasm (core's beat arithmetic and clock
        // sync) are precached so charts, transpositions and the click work offline.
        globPatterns: ['**/*.{js,css,html,svg,png,ico,webmanifest,wasm}'],
        navigateFallback: 'index.html',
        // The server's own endpoints are never answered from the cache.
        navigateFallbackDenylist: [/^\/ws(\/|$|\?)/, /^\/auth\//, /^\/api\//, /^\/metrics(\/|$|\?)/, /^\/healthz(\/|$|\?)/, /^\/readyz(\/|$|\?)/],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
  server: {
    proxy: {
      '/auth': { target, secure: false, changeOrigin: true },
      '/api': { target, secure: false, changeOrigin: true },
      '/ws': { target, secure: false, changeOrigin: true, ws: true },
    },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
