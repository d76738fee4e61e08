// The sign-in page: a person's username and password (and authenticator code), or a token
// pasted (the last line of `clearsky token -role ROLE`).
import {h} from '../dom.js';
import * as session from '../session.js';
import {api} from '../api.js';
import {field, formShell, submitRow} from '../forms.js';

/** passwordForm signs a person in: a session cookie, then an access token for it. */
function passwordForm(onSignedIn) {
  const form = formShell({
    label: 'Sign in with your account',
    onSubmit: async f => {
      const body = {username: f.elements.username.value.trim(), password: f.elements.password.value};
      if (f.elements.totp.value.trim()) body.totp = f.elements.totp.value.trim();
      const me = await api('POST', '/v1/auth/sessions', {body, cookies: true});
      if ((me.required || []).length) {
        const what = me.required.map(r => (r === 'change_password' ? 'change your password' : 'enrol an authenticator')).join(' and ');
        throw {message: `Before you can use the console, ${what} (your administrator can help).`, fields: [{field: 'password', message: `First ${what}.`}]};
      }
      const {expiresIn} = await session.exchange(me.csrf_token);
      session.keepFresh(expiresIn);
      onSignedIn();
    },
  });
  form.append(
    field({label: 'Username', name: 'username', required: true, attrs: {autocomplete: 'username', autocapitalize: 'off', spellcheck: 'false'}}),
    field({label: 'Password', name: 'password', type: 'password', required: true, attrs: {autocomplete: 'current-password'}}),
    field({label: 'Authenticator code', name: 'totp', hint: 'Administrators: the six digits your authenticator shows.', attrs: {autocomplete: 'one-time-code', inputmode: 'numeric'}}),
    submitRow('Sign in'));
  return form;
}

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
      passwordForm(onSignedIn),
      h('h2', {}, 'Or with a token'),
      form);
  },
};
