/**
 * Account mails, plain text and HTML. Every interpolated value is escaped: no
 * user-controlled HTML reaches a mail.
 */
import type { MailMessage } from '../../platform/mail/mailer.js';

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function compose(to: string, subject: string, lines: string[], link?: { url: string; label: string }): MailMessage {
  const text = [...lines, ...(link ? ['', `${link.label}: ${link.url}`] : []), '', '— Bastion'].join('\n');
  const html = [...lines.map((line) => `<p>${escapeHtml(line)}</p>`), ...(link ? [`<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>`] : []), '<p>— Bastion</p>'].join('\n');
  return { to, subject, text, html };
}

export const mails = {
  verifyEmail: (to: string, name: string, url: string) =>
    compose(to, 'Verify your email address for Bastion', [`Hello ${name},`, 'Confirm this address to finish creating your Bastion account. The link works for 24 hours.'], { url, label: 'Verify my email' }),
  alreadyRegistered: (to: string, url: string) =>
    compose(to, 'Someone tried to register with your email', ['Someone tried to create a Bastion account with this address, which already has one. If it was you, sign in or reset your password.'], { url, label: 'Reset my password' }),
  invite: (to: string, url: string) => compose(to, 'You are invited to Bastion', ['An administrator invited you to Bastion. The link works for 7 days.'], { url, label: 'Create my account' }),
  passwordReset: (to: string, url: string) =>
    compose(to, 'Reset your Bastion password', ['Someone asked to reset your Bastion password. The link works once, for 30 minutes. If it was not you, ignore this mail.'], { url, label: 'Choose a new password' }),
  passwordChanged: (to: string) => compose(to, 'Your Bastion password was changed', ['Your password was changed and your other sessions were signed out. If this was not you, reset your password now and contact your administrator.']),
  accountLocked: (to: string, minutes: number, url: string) =>
    compose(to, 'Your Bastion account was locked', [`After repeated failed sign-ins, your account is locked for ${minutes} minutes. If this was not you, someone may be guessing your password; resetting it is safe.`], {
      url,
      label: 'Reset my password',
    }),
  newSignIn: (to: string, details: string[], url: string) =>
    compose(to, 'New sign-in to your Bastion account', ['We noticed a sign-in that looks unusual:', ...details, 'If it was you, nothing to do. If not, use the link: it signs out every session and asks for a new password.'], {
      url,
      label: 'This wasn’t me',
    }),
  mfaChanged: (to: string, enabled: boolean) =>
    compose(to, `Two-factor authentication ${enabled ? 'enabled' : 'disabled'}`, [`Two-factor authentication was ${enabled ? 'enabled' : 'disabled'} on your Bastion account. If this was not you, reset your password now.`]),
  mfaReset: (to: string) =>
    compose(to, 'Two-factor authentication was reset by an administrator', [
      'An administrator turned off two-factor authentication on your Bastion account, deleted your recovery codes and signed out all your sessions.',
      'Sign in with your password and set up two-factor authentication again. If you did not ask for this, contact your administrator.',
    ]),
};
