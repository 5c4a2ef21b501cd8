// The alert stream's whole front end: typed messages, reconnect and gap-free resume included.
import { createClient } from '../../generated/alerts/client.js';

export async function watchAlerts(baseUrl: string, fleetId: string, show: (level: string, text: string) => void) {
  for await (const m of createClient({ baseUrl }).alerts({ params: { fleetId } })) {
    if (m.type === 'alert') show(m.data.level, m.data.text);
  }
}
