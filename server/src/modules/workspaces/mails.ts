/** Workspace mails; values are escaped by the shared composer. */
import { compose } from '../auth/mail-templates.js';

export const workspaceMails = {
  invitation: (to: string, workspace: string, url: string) =>
    compose(to, `You are invited to the Bastion workspace “${workspace}”`, [`You were invited to join the workspace “${workspace}” on Bastion. The link works once, for 7 days, when you are signed in with this address.`], {
      url,
      label: 'Join the workspace',
    }),
};
