import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { getJson, params, type Filters, type Histogram, type IndexDoc } from './api';
import type { Selected } from './main';

export function fmtTs(ts: string): string {
  return ts.replace('T', ' ').replace(/(\.\d{3})\d*Z$/, '$1');
}
export function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

/** Calls per time bucket (aggregated by the server); drag across it to zoom the time range. */
function HistogramChart(props: { h: Histogram; onZoom(start: string, end: string): void }) {
  const el = useRef<HTMLDivElement>(null);
  const zoom = useRef(props.onZoom);
  zoom.current = props.onZoom;
  useEffect(() => {
    const { h } = props;
    const xs = h.counts.map((_, i) => (h.start + i * h.step_ms) / 1000);
    const bars = uPlot.paths.bars!({ size: [0.9, 40], align: 1 });
    const width = el.current!.clientWidth || 900;
    const plot = new uPlot(
      {
        width,
        height: 160,
        cursor: { drag: { x: true, y: false, setScale: false } },
        legend: { show: false },
        scales: { x: { time: true, range: [h.start / 1000, h.end / 1000] } },
        axes: [{}, { size: 50 }],
        series: [{}, { label: 'calls', fill: '#4c8bf5', stroke: '#4c8bf5', paths: bars, points: { show: false } }, { label: 'errors', fill: '#e5534b', stroke: '#e5534b', paths: bars, points: { show: false } }],
        hooks: {
          setSelect: [
            (u) => {
              if (u.select.width < 3) return;
              const a = u.posToVal(u.select.left, 'x');
              const b = u.posToVal(u.select.left + u.select.width, 'x');
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              zoom.current(new Date(a * 1000).toISOString(), new Date(b * 1000).toISOString());
            },
          ],
        },
      },
      // Stacked: the error bars drawn over the ok bars' bottom part.
      [xs, h.counts, h.errors],
      el.current!,
    );
    return () => plot.destroy();
  }, [props.h]);
  return <div class="histogram" data-testid="histogram" ref={el} />;
}

const COLS: [keyof IndexDoc & string, string][] = [
  ['ts', 'Time'], ['service', 'Service'], ['direction', 'Dir'], ['command', 'Command'], ['location', 'Location'],
  ['status', 'Status'], ['duration', 'Duration'], ['req_size', 'Req'], ['res_size', 'Res'],
];
const PAGE = 50;

export function FindScreen(props: { filters: Filters; onZoom(s: string, e: string): void; onOpen(s: Selected): void; onError(e: unknown): void }) {
  const f = props.filters;
  const [hist, setHist] = useState<Histogram>();
  const [rows, setRows] = useState<IndexDoc[]>();
  const [err, setErr] = useState('');
  const [sort, setSort] = useState<{ col: string; desc: boolean }>({ col: 'ts', desc: false });
  // Paging: cursors for the store's own order (ts ascending), offsets for the others.
  const [cursors, setCursors] = useState<string[]>([]);
  const [next, setNext] = useState<string>();
  const [offset, setOffset] = useState(0);
  const [total, setTotal] = useState<number>();
  const fail = (e: unknown) => { setErr((e as Error).message); props.onError(e); };

  useEffect(() => {
    setHist(undefined);
    setErr('');
    setCursors([]);
    setOffset(0);
    getJson<Histogram>(`/api/v1/explore/histogram?${params(f, { buckets: 80 })}`).then(setHist, fail);
  }, [f]);

  useEffect(() => {
    setRows(undefined);
    const native = sort.col === 'ts' && !sort.desc;
    const after = cursors[cursors.length - 1];
    const q = params(f, native ? { limit: PAGE, after } : { limit: PAGE, sort: sort.col, order: sort.desc ? 'desc' : 'asc', offset });
    getJson<{ rows: IndexDoc[]; next?: string; total?: number }>(`/api/v1/explore/table?${q}`).then((r) => {
      setRows(r.rows);
      setNext(native ? r.next : undefined);
      if (r.total !== undefined) setTotal(r.total);
    }, fail);
  }, [f, sort, cursors, offset]);

  const native = sort.col === 'ts' && !sort.desc;
  const count = hist?.total ?? total;
  const from = native ? cursors.length * PAGE : offset;
  const hasNext = native ? !!next : count !== undefined && offset + PAGE < count;
  const clickSort = (col: string) => {
    setCursors([]);
    setOffset(0);
    setSort(sort.col === col ? { col, desc: !sort.desc } : { col, desc: false });
  };
  return (
    <section class="find">
      {err && <p class="error" data-testid="error">{err}</p>}
      <div class="summary" data-testid="total">
        {count === undefined ? 'counting…' : `${count.toLocaleString('en')} matching calls`}
        {hist?.truncated && ' (histogram cut at scan_limit)'}
        {hist && hist.total > 0 && <span class="hint"> · drag across the chart to zoom</span>}
      </div>
      {hist && <HistogramChart h={hist} onZoom={props.onZoom} />}
      <table class="results" data-testid="results">
        <thead>
          <tr>
            {COLS.map(([k, label]) => (
              <th data-testid={`sort-${k}`} class={sort.col === k ? (sort.desc ? 'desc' : 'asc') : ''} onClick={() => clickSort(k)}>{label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows?.map((r) => (
            <tr data-testid="row" data-id={r.id} onClick={() => props.onOpen({ id: r.id, ts: r.ts })}>
              <td class="ts">{fmtTs(r.ts)}</td>
              <td>{r.service}</td>
              <td>{r.direction}</td>
              <td>{r.command}</td>
              <td class="loc" title={r.location}>{r.location}</td>
              <td class={/^5/.test(r.status) ? 'st err' : /^4/.test(r.status) ? 'st warn' : 'st'}>{r.status}</td>
              <td class="num">{r.duration} ms</td>
              <td class="num">{fmtBytes(r.req_size)}</td>
              <td class="num">{fmtBytes(r.res_size)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows && rows.length === 0 && <p class="empty">No calls match: widen the time range or clear a filter.</p>}
      <div class="pager">
        <button data-testid="prev" disabled={from === 0} onClick={() => (native ? setCursors(cursors.slice(0, -1)) : setOffset(Math.max(0, offset - PAGE)))}>← Prev</button>
        <span data-testid="page">{rows ? `${rows.length ? from + 1 : 0}–${from + rows.length}` : '…'}</span>
        <button data-testid="next" disabled={!hasNext} onClick={() => (native ? setCursors([...cursors, next!]) : setOffset(offset + PAGE))}>Next →</button>
      </div>
    </section>
  );
}
