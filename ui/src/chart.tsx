// Charts drawn by Chart.js (only the parts used are registered, to keep the bundle small).
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { Flow, SankeyController } from "chartjs-chart-sankey";
import { useEffect, useRef } from "preact/hooks";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  SankeyController,
  Flow,
);

export const PALETTE = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#ec4899", "#64748b"];

export function ChartView(props: {
  config: ChartConfiguration;
  label: string;
  tall?: boolean;
  onPick?: (index: number, dataset: number) => void;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    chart.current?.destroy();
    const config: ChartConfiguration = {
      ...props.config,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        ...props.config.options,
        onClick: (_event, elements) => {
          const hit = elements[0];
          if (hit && props.onPick) props.onPick(hit.index, hit.datasetIndex);
        },
      },
    };
    chart.current = new Chart(canvas.current, config);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [props.config]);
  return (
    <div class={props.tall ? "chart tall" : "chart"}>
      <canvas ref={canvas} role="img" aria-label={props.label} data-testid="chart" />
    </div>
  );
}

export function downloadCsv(name: string, rows: (string | number)[][]): void {
  const text = rows
    .map((row) => row.map((cell) => (/[",\n]/.test(String(cell)) ? `"${String(cell).replace(/"/g, '""')}"` : String(cell))).join(","))
    .join("\n");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
