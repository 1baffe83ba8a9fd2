import { render } from 'preact';
import { registerSW } from 'virtual:pwa-register';
import { App } from './ui/App';
import { initChart } from './chart';
import './styles.css';

// The chart module (core/chart as WebAssembly) loads next to the first render; chart views call
// it synchronously once it is ready (see chartReady()).
void initChart().catch((e) => console.error('downbeat: charts not loaded', e));
render(<App />, document.getElementById('app')!);

if (import.meta.env.PROD) {
  // The app shell stays available offline (vite-plugin-pwa / Workbox); a failure here only costs that.
  registerSW({ immediate: true, onRegisterError: (e) => console.warn('downbeat: service worker not registered', e) });
}
