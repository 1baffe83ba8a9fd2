import { render } from 'preact';
import { registerSW } from 'virtual:pwa-register';
import { App } from './ui/App';
import './styles.css';

render(<App />, document.getElementById('app')!);

if (import.meta.env.PROD) {
  // The app shell stays available offline (vite-plugin-pwa / Workbox); a failure here only costs that.
  registerSW({ immediate: true, onRegisterError: (e) => console.warn('downbeat: service worker not registered', e) });
}
