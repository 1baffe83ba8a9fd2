import { render } from 'preact';
import { registerSW } from 'virtual:pwa-register';
import { App } from './ui/App';
import { initChart } from './chart';
import { initTiming } from './timing';
import './styles.css';

// The chart module (core/chart as WebAssembly) loads next to the first render; chart views call
// it synchronously once it is ready (see chartReady()).
void initChart().catch((e) => console.error('downbeat: charts not loaded', e));
// The timing core (core/tempo_math and core/clock_sync as WebAssembly): no click until it is loaded.
void initTiming().catch((e) => console.error('downbeat: timing core not loaded, the click cannot play', e));
render(<App />, document.getElementById('app')!);

if (import.meta.env.PROD) {
  // The app shell stays available offline (vite-plugin-pwa / Workbox); a failure here only costs that.
  registerSW({ immediate: true, onRegisterError: (e) => console.warn('downbeat: service worker not registered', e) });
}
