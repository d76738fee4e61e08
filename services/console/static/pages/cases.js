// The cases page for the police (penalties) and the transport bureau (repairs): the
// remote-sensing cases with the steps the role may take.
import {h} from '../dom.js';
import {remoteSensingCases} from '../cases.js';

export default {
  id: 'cases',
  title: 'Cases',
  roles: ['police', 'transport'],
  render(root, sess) {
    root.append(h('h1', {class: 'page-title'}, 'Cases'), remoteSensingCases(sess.role));
  },
};
