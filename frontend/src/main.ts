import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { selectBackend } from './lib/select';
import { Session } from './lib/session';
import { browserStorage } from './lib/prefs';

const target = document.getElementById('app');
if (!target) throw new Error('#app is missing from index.html');

mount(App, {
  target,
  props: {
    backend: selectBackend(window),
    session: new Session(URL),
    storage: browserStorage(),
    win: window,
  },
});
