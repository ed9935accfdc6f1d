// One sender per destination, by its type. The forwarder, the destinations API's test and redrive
// endpoints, and replays all get their senders here.
import os from 'node:os';
import type { DestinationConfig, SiemSender } from '../../processors/siem/siem-types.ts';
import { splunkHecSender, webhookSender, type SenderLogger } from './http-sender.ts';
import { syslogSender } from './syslog-sender.ts';

export interface SenderOptions {
  /** Per request (HTTP), per connect and per write (syslog); default 10 s. */
  timeoutMs?: number;
  /** Connection drops and reconnects are logged (never a secret: tokens, webhook secrets, header values). */
  logger?: SenderLogger;
  /** HEC `host` and syslog HOSTNAME; default this machine's host name. */
  hostname?: string;
}

export function createSender(dest: DestinationConfig, opts: SenderOptions = {}): SiemSender {
  const hostname = opts.hostname ?? os.hostname();
  const common = { timeoutMs: opts.timeoutMs, logger: opts.logger, hostname };
  switch (dest.type) {
    case 'splunk_hec': return splunkHecSender(dest.config, common);
    case 'webhook': return webhookSender(dest.config, common);
    case 'syslog': return syslogSender(dest.config, { ...common, procId: process.pid });
  }
}
