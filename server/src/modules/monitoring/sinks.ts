/**
 * Where alerts go besides the log: mail to ALERT_EMAIL_TO (the app's mailer) and a
 * signed POST to ALERT_WEBHOOK_URL (Bastion-Signature, the scheme of the agent webhooks,
 * sent through the SSRF-guarded OutboundHttp). Neither carries secrets: alerts hold
 * rule names, keys (addresses, ids) and counts.
 */
import type { Clock } from '../../platform/clock.js';
import type { Mailer } from '../../platform/mail/mailer.js';
import type { OutboundHttp } from '../../platform/net/outbound.js';
import { SIGNATURE_HEADER, signRequest } from '../../sdk/sign.js';

export interface AlertNotice {
  id: string;
  rule: string;
  key: string;
  severity: string;
  firstSeenAt: string;
  lastSeenAt: string;
  count: number;
  details: Record<string, unknown>;
}

export interface AlertSink {
  readonly name: string;
  deliver(alert: AlertNotice): Promise<void>;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function lines(alert: AlertNotice): string[] {
  return [
    `Rule: ${alert.rule}`,
    `Key: ${alert.key}`,
    `Severity: ${alert.severity}`,
    `First seen: ${alert.firstSeenAt}`,
    `Details: ${JSON.stringify(alert.details)}`,
    `Alert id: ${alert.id} (acknowledge with POST /api/v1/admin/alerts/${alert.id}/acknowledge)`,
  ];
}

export class EmailSink implements AlertSink {
  readonly name = 'email';
  constructor(
    private readonly mailer: Mailer,
    private readonly to: string,
  ) {}

  async deliver(alert: AlertNotice): Promise<void> {
    const body = lines(alert);
    await this.mailer.send({
      to: this.to,
      subject: `[Bastion] Security alert: ${alert.rule} (${alert.severity})`,
      text: body.join('\n'),
      html: `<p>${body.map(escape).join('<br>')}</p>`,
    });
  }
}

export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  constructor(
    private readonly outbound: OutboundHttp<'webhooks'>,
    private readonly url: string,
    private readonly secret: string,
    private readonly clock: Clock,
  ) {}

  async deliver(alert: AlertNotice): Promise<void> {
    const body = JSON.stringify({ event: 'security.alert', alert });
    const target = new URL(this.url);
    const signature = signRequest(this.secret, { method: 'POST', url: `${target.pathname}${target.search}`, body }, this.clock.now());
    const response = await this.outbound.fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature, 'user-agent': 'Bastion-Alerts/1' },
      body,
      timeoutMs: 10_000,
      maxRetries: 2,
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`alert webhook answered HTTP ${response.status}`);
  }
}
