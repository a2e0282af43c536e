// A per-hour bar chart as inline SVG markup, drawn on the server (no script, no CDN). Two series side
// by side, each scaled to its own maximum; the labels are the hours in the console's time zone.
import { html, type Html } from './html.js';

export function hourChart(
  rows: { hour: number; mails: number; items: number }[],
  hourLabel: (ms: number) => string,
  titles: { mails: string; items: string },
): Html {
  const W = 960,
    H = 160,
    top = 14,
    bottom = 18,
    left = 4;
  const slot = (W - left) / Math.max(rows.length, 1);
  const maxMails = Math.max(1, ...rows.map((r) => r.mails));
  const maxItems = Math.max(1, ...rows.map((r) => r.items));
  const h = (v: number, max: number) => ((H - top - bottom) * v) / max;
  const bars = rows.map((r, i) => {
    const x = left + i * slot;
    const hm = h(r.mails, maxMails),
      hi = h(r.items, maxItems);
    return html`<rect
        class="bar-mail"
        x="${(x + 2).toFixed(1)}"
        y="${(H - bottom - hm).toFixed(1)}"
        width="${(slot / 2 - 3).toFixed(1)}"
        height="${hm.toFixed(1)}"
        ><title>${hourLabel(r.hour)}: ${r.mails} ${titles.mails}</title></rect
      >
      <rect
        class="bar-items"
        x="${(x + slot / 2).toFixed(1)}"
        y="${(H - bottom - hi).toFixed(1)}"
        width="${(slot / 2 - 3).toFixed(1)}"
        height="${hi.toFixed(1)}"
        ><title>${hourLabel(r.hour)}: ${r.items} ${titles.items}</title></rect
      >
      ${i % 3 === 0 ? html`<text x="${x.toFixed(1)}" y="${H - 4}">${hourLabel(r.hour)}</text>` : ''}`;
  });
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${titles.mails} / ${titles.items}">
      <text x="${left}" y="10">max ${maxMails} ${titles.mails} · ${maxItems} ${titles.items}</text>
      ${bars}
    </svg>
    <div class="legend muted"><span class="m"></span>${titles.mails}<span class="i"></span>${titles.items}</div>`;
}
