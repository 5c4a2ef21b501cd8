// Stand-in for the application's own data: a fleet's alerts, in order.
export function alertsFor(fleetId: string): { level: 'info' | 'warn' | 'critical'; text: string }[] {
  return Array.from({ length: 50 }, (_, i) => ({ level: i % 10 === 9 ? 'critical' : i % 3 === 2 ? 'warn' : 'info', text: `${fleetId} alert ${i}` }));
}
