// The alert stream's whole back end: one handler. `alertsFor` stands for the application's data.
import { createRouter } from '../../generated/alerts/server.js';
import { alertsFor } from './feed.js';

export const router = createRouter({
  async *alerts({ params, resumeFrom = 0 }) {
    for (const alert of alertsFor(params.fleetId).slice(resumeFrom)) yield { type: 'alert', data: alert };
    return { type: 'resolved', data: null };
  },
});
