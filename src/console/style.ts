// The console's one stylesheet, served as /static/console.css (the CSP allows styles only from 'self').
export const CONSOLE_CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,"Noto Sans CJK JP","Noto Sans JP",sans-serif;color:#1d2330;background:#f4f6f9}
header{display:flex;align-items:center;gap:18px;padding:8px 20px;background:#1f3b57;color:#fff;flex-wrap:wrap}
header .brand{font-weight:700;letter-spacing:.02em}
header nav a{color:#dce8f5;text-decoration:none;margin-right:14px}
header nav a.on{color:#fff;border-bottom:2px solid #f0b429}
header .right{margin-left:auto;display:flex;gap:12px;align-items:center}
header .right a{color:#dce8f5}
header form{margin:0}
header button{background:none;border:1px solid #8fb0cf;color:#fff;border-radius:4px;padding:2px 10px;cursor:pointer}
main{padding:16px 20px;max-width:1200px}
h1{font-size:20px;margin:4px 0 12px}
h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:8px}
th,td{border-bottom:1px solid #e2e6ec;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;white-space:nowrap}
td:first-child{white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;padding:10px 14px;margin:0 0 8px}
dt{color:#5b6575}
dd{margin:0;word-break:break-all}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin-bottom:10px}
.card{background:#fff;border:1px solid #e2e6ec;border-radius:6px;padding:8px 12px}
.card .n{font-size:22px;font-weight:700}
.card .l{color:#5b6575;font-size:12px}
.b{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;background:#e2e6ec}
.b.sent,.b.applied,.b.ok{background:#d3f2dc;color:#14532d}
.b.suppressed{background:#fdf0c4;color:#6b4e00}
.b.failed,.b.skipped,.b.down{background:#fbd5d5;color:#7f1d1d}
.b.queued,.b.deferred,.b.delayed,.b.waiting,.b.stored{background:#dbe8fb;color:#1e3a8a}
form.filter{display:flex;gap:8px;flex-wrap:wrap;align-items:end;margin-bottom:10px}
label{display:flex;flex-direction:column;font-size:12px;color:#5b6575;gap:2px}
input,select,textarea{font:inherit;padding:4px 6px;border:1px solid #b8c1cc;border-radius:4px;background:#fff}
textarea{width:100%;min-height:180px;font-family:monospace;font-size:12px}
button,.button{font:inherit;background:#1f3b57;color:#fff;border:0;border-radius:4px;padding:5px 12px;cursor:pointer;
  text-decoration:none;display:inline-block}
button.danger{background:#b42318}
form.inline{display:inline;margin:0}
.pager{display:flex;gap:12px;margin:8px 0;align-items:center}
.note{background:#fff8e1;border-left:4px solid #f0b429;padding:8px 12px;margin:8px 0}
.warn{background:#fdecec;border-left:4px solid #b42318;padding:8px 12px;margin:8px 0}
.done{background:#e8f7ee;border-left:4px solid #1e8e3e;padding:8px 12px;margin:8px 0}
pre{background:#fff;border:1px solid #e2e6ec;padding:10px;overflow:auto;max-height:420px;font-size:12px;
  white-space:pre-wrap;word-break:break-all}
.muted{color:#5b6575}
.login{max-width:360px;margin:80px auto;background:#fff;padding:24px;border-radius:8px;border:1px solid #e2e6ec}
.login form{display:flex;flex-direction:column;gap:10px}
.chart{background:#fff;border:1px solid #e2e6ec;padding:6px}
.chart .bar-mail{fill:#3b82c4}.chart .bar-items{fill:#f0b429}.chart text{font-size:10px;fill:#5b6575}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}.legend .m{background:#3b82c4}.legend .i{background:#f0b429}
`;
