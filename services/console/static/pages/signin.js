// The sign-in page: paste a token (the last line of `clearsky token -role ROLE`).
import {h} from '../dom.js';
import * as session from '../session.js';
import {field, formShell, submitRow} from '../forms.js';

export default {
  id: 'signin',
  title: 'Sign in',
  roles: [],
  render({notice, onSignedIn}) {
    const form = formShell({
      label: 'Sign in with a token',
      onSubmit: async f => {
        const token = f.elements.token.value;
        try {
          session.signIn(token);
        } catch (e) {
          // Shown next to the field like an API error.
          throw {message: 'This token cannot be used', fields: [{field: 'token', message: e.message}]};
        }
        onSignedIn();
      },
    });
    form.append(
      field({
        label: 'Access token', name: 'token', type: 'textarea', required: true, wide: true,
        hint: 'Paste the token your administrator gave you. On the all-in-one: go run ./services/allinone/cmd/clearsky token -role police (the last line).',
        attrs: {rows: 4, spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off'},
      }),
      submitRow('Sign in'));
    return h('section', {class: 'panel narrow'},
      h('h1', {}, 'Sign in'),
      notice ? h('p', {class: 'notice', role: 'status'}, notice) : null,
      h('p', {}, 'The console shows each role the pages it may use. Your token stays in this browser tab only and is forgotten when the tab closes.'),
      form);
  },
};
