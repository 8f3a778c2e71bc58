import { useEffect, useState } from 'preact/hooks';
import type { DashboardController, DashboardView } from '../app/dashboard-controller.js';

/** The controller's view, re-rendered when it changes (at most once per animation frame for data). */
export function useView(controller: DashboardController): DashboardView {
  const [view, setView] = useState(() => controller.view());
  useEffect(() => controller.subscribe(() => setView(controller.view())), [controller]);
  return view;
}

/** Re-renders every `ms` while `active`: countdowns and ages. */
export function useTicker(ms: number, active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms, active]);
  return now;
}
