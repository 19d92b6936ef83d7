/** Workspace mails; values are escaped by the shared composer. */
import { compose } from '../auth/mail-templates.js';

export const workspaceMails = {
  invitation: (to: string, workspace: string, url: string) =>
    compose(
      to,
      `You are invited to the Bastion workspace “${workspace}”`,
      [`You were invited to join the workspace “${workspace}” on Bastion. Open the link to join; if you have no Bastion account yet, you create one there with this address. The link works once, for 7 days.`],
      {
        url,
        label: 'Join the workspace',
      },
    ),
};
