import type { PriceChart } from '../chart/price-chart.js';
import type { DashboardController } from './dashboard-controller.js';

/**
 * What the page exposes as `window.visualgo`: the controller and the chart, for its browser tests
 * (which check through the chart's own API) and for an operator's console.
 */
export interface DashboardHandle {
  controller: DashboardController;
  chart: PriceChart | null;
}

declare global {
  interface Window {
    visualgo?: DashboardHandle;
  }
}
