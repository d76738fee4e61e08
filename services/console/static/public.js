// The public disclosure page (/public/): the heavy-pollution alert in force and the monthly
// lists the bureau has published, read from /v1/public/ with no sign-in. Chinese only: it is
// for the public of a Chinese district. Times are China time.

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

const chinaTime = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
});

// when writes a time as Chinese users do: 2026-12-03 16:21, China time.
function when(iso) {
  const p = Object.fromEntries(chinaTime.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

const levels = { blue: "蓝色预警", yellow: "黄色预警", orange: "橙色预警", red: "红色预警" };
const classes = { heavy_diesel: "重型柴油货车", bulk_material: "渣土及散装物料运输车", any: "机动车" };
const pollutants = { co: "一氧化碳", hc: "碳氢化合物", no: "一氧化氮", opacity: "不透光烟度", ringelmann: "林格曼黑度" };
const colours = { blue: "蓝牌", yellow: "黄牌", green: "绿牌", yellow_green: "黄绿牌", white: "白牌", black: "黑牌" };
const products = { gasoline: "车用汽油", diesel: "车用柴油", urea: "车用尿素", coal: "民用散煤" };
const muckKinds = { leaky_cover: "密闭不严", muddy_wheels: "车轮带泥", off_route: "未按路线行驶", outside_hours: "未按时段行驶", unauthorised_dumping: "乱倒乱卸", no_permit: "无证运输" };

async function get(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" } });
  if (res.status === 404) return null;
  if (res.status === 429) throw new Error("访问过于频繁，请稍后再试。");
  if (!res.ok) throw new Error(`读取失败（${res.status}），请稍后刷新本页。`);
  return res.json();
}

async function showAlert() {
  const box = $("#alert");
  try {
    const a = await get("/v1/public/alert");
    box.replaceChildren();
    if (!a || !a.in_force) {
      box.append(el("p", {}, "当前没有重污染天气预警。"));
      return;
    }
    for (const x of a.alerts) {
      const items = (x.restrictions || []).map((r) => el("li", {}, `${classes[r.class] || r.class}` +
        (r.max_standard ? `（国${r.max_standard}及以下）` : "") + (r.zone_name ? `，${r.zone_name}` : "") +
        (r.hours ? `，${r.hours.from}–${r.hours.to}` : "") + " 限行"));
      box.append(el("div", { class: `alert alert-${x.level}` },
        el("p", {}, el("strong", {}, levels[x.level] || x.level), `：${when(x.starts_at)} 至 ${when(x.ends_at)}`),
        x.reason ? el("p", {}, x.reason) : "", items.length ? el("ul", {}, ...items) : ""));
    }
  } catch (e) {
    box.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

const columns = {
  "vehicle-exceedances": [["plate", "车牌"], ["plate_colour", "号牌颜色", (v) => colours[v] || v], ["date", "日期"], ["place", "地点"], ["pollutant", "超标污染物", (v) => pollutants[v] || v]],
  "fuel-failures": [["site", "单位"], ["address", "地址"], ["operator", "经营单位"], ["product", "品类", (v) => products[v] || v], ["grade", "牌号"], ["parameters", "不合格项目", (v) => (v || []).join("、")], ["date", "抽检日期"]],
  "muck-violations": [["site", "工地"], ["developer", "建设单位"], ["contractor", "施工单位"], ["total", "违法违规次数"],
    ["by_kind", "类型", (v) => Object.entries(v || {}).map(([k, n]) => `${muckKinds[k] || k} ${n}`).join("、")]],
};

async function showList(kind, month) {
  const box = $("#list");
  box.hidden = false;
  box.replaceChildren(el("p", { class: "muted" }, "正在读取……"));
  try {
    const l = await get(`/v1/public/lists/${encodeURIComponent(kind)}/${encodeURIComponent(month)}`);
    if (!l) {
      box.replaceChildren(el("p", {}, "该名单未公开或已撤回。"));
      return;
    }
    const cols = columns[kind] || [];
    const head = el("tr", {}, ...cols.map(([, title]) => el("th", { scope: "col" }, title)));
    const rows = (l.rows || []).map((r) => el("tr", {}, ...cols.map(([k, , fmt]) => el("td", {}, fmt ? fmt(r[k]) : r[k]))));
    box.replaceChildren(
      el("h2", {}, `${l.month} ${l.title}`),
      el("p", { class: "muted" }, `公开于 ${when(l.published_at)}，共 ${l.count} 条` + (l.version > 1 ? `（第 ${l.version} 版，更正此前版本）` : "")),
      l.note ? el("p", {}, l.note) : "",
      el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows))));
    box.focus?.();
  } catch (e) {
    box.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

async function showLists() {
  const box = $("#lists");
  try {
    const out = await get("/v1/public/lists");
    const items = out?.items || [];
    if (!items.length) {
      box.replaceChildren(el("p", {}, "暂无公开名单。"));
      return;
    }
    box.replaceChildren(el("ul", { class: "plain" }, ...items.map((l) => {
      const a = el("a", { href: `#${l.kind}/${l.month}` }, `${l.month} ${l.title}（${l.count} 条）`);
      return el("li", {}, a);
    })));
  } catch (e) {
    box.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

function route() {
  const [kind, month] = location.hash.replace(/^#/, "").split("/");
  if (kind && month) showList(kind, month);
}

window.addEventListener("hashchange", route);
showAlert();
showLists().then(route);
