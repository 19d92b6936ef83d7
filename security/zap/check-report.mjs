// After a ZAP run: fails (exit 1) on any alert above Informational whose pluginId is not
// allow-listed for tool "zap" in security/allow-list.json. Usage:
//   node security/zap/check-report.mjs security/zap/zap-report.json
import fs from 'node:fs';

const report = JSON.parse(fs.readFileSync(process.argv[2] ?? 'security/zap/zap-report.json', 'utf8'));
const allowed = new Set(
  JSON.parse(fs.readFileSync(new URL('../allow-list.json', import.meta.url), 'utf8'))
    .entries.filter((e) => e.tool === 'zap')
    .map((e) => String(e.id)),
);
const open = (report.site ?? []).flatMap((site) => site.alerts ?? []).filter((alert) => Number(alert.riskcode) >= 1 && !allowed.has(String(alert.pluginid)));
for (const alert of open) console.log(`${alert.riskdesc} ${alert.pluginid} ${alert.name} (${alert.count ?? alert.instances?.length ?? '?'} instances)`);
console.log(open.length === 0 ? 'ZAP: no unexplained alerts' : `ZAP: ${open.length} unexplained alerts`);
process.exit(open.length === 0 ? 0 : 1);
