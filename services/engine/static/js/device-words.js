// What a device's health reason says, in the hall's words. The drivers and the engine
// report in English (drivers/, devices/rules.py); a reason not known here is shown as it is.

const EXACT = {
  "never reported": "从未上报",
  "not seen yet": "尚未连接",
  "not open": "串口未打开",
  "no answer to status request": "查询状态无应答",
  "status not queried": "未查询状态",
  "answers are garbled (bad frames)": "应答乱码（帧错误）",
  "printer error": "打印机故障",
  "cutter error": "切刀故障",
  "cover open": "机盖未关",
  "paper out": "缺纸",
  "paper near end": "纸将用完",
  "offline": "离线",
};

const PATTERNS = [
  [/^no report for more than ([\d.]+) s$/, (m) => `超过${m[1]}秒未上报`],
  [/^no answer after (\d+) tries$/, (m) => `连续${m[1]}次无应答`],
  [/^port unavailable: (.*)$/, (m) => `串口不可用：${m[1]}`],
  [/^cannot open: (.*)$/, (m) => `无法打开：${m[1]}`],
  [/^read failed: (.*)$/, (m) => `读取失败：${m[1]}`],
];

/** One reason, or several joined with ", " (a printer may have more than one problem). */
export function deviceReason(reason) {
  if (!reason) return "";
  if (EXACT[reason]) return EXACT[reason];
  for (const [pattern, say] of PATTERNS) {
    const m = pattern.exec(reason);
    if (m) return say(m);
  }
  if (reason.includes(", ")) return reason.split(", ").map(deviceReason).join("，");
  return reason;
}
