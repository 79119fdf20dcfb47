// The engine's refusals (application/problem+json, a stable `code`) in the hall's words.
// The engine's `detail` is written for developers; a clerk reads these.

const STATUS_WORDS = {
  waiting: "等候中", called: "已呼叫", serving: "办理中", done: "已办结", no_show: "已过号",
  cancelled: "已取消", transferred: "已转移", held: "已挂起", held_expired: "挂起已过期",
};

const MESSAGES = {
  unauthorized: () => "登录已失效，请重新登录",
  forbidden: () => "当前账号无权进行此操作",
  not_signed_in: (p) => `请先在${p.window ?? ""}号窗口签到，再进行操作`,
  staff_only: () => "只有工作人员账号可以签到",
  login_throttled: () => "登录失败次数过多，请稍后再试",
  not_found: () => "未找到该号码或对象（请核对号码是否为今日所取）",
  validation_error: () => "输入内容不正确，请检查后重试",
  settings_invalid: (p) => p.detail || "设置内容不正确，未保存",
  queue_empty: () => "当前没有等候的号码",
  window_closed: () => "窗口未开放，请先开窗",
  window_paused: () => "窗口已暂停服务，请先恢复",
  window_busy: () => "当前号码尚未办结，请先办结、挂起或转移",
  window_has_no_ticket: () => "当前窗口没有正在办理的号码",
  ticket_not_waiting: () => "该号码不在等候中（可能已被其他窗口呼叫或已办结）",
  ticket_not_held: () => "该号码没有挂起，无法回呼",
  held_by_other_window: () => "该号码挂起在其他窗口，请由该窗口回呼",
  nothing_held: () => "本窗口没有挂起的号码",
  outcome_required: () => "请选择办理结果后再办结",
  invalid_ticket_state: (p) => {
    const status = STATUS_WORDS[p.ticket_status];
    return status ? `该号码当前为“${status}”，不能进行此操作` : "该号码当前状态不允许此操作";
  },
  service_not_served: () => "本窗口不办理该业务",
  service_unavailable: () => "该业务已停办",
  outside_service_hours: () => "该业务当前不在办理时间内",
  quota_exhausted: () => "该业务今日号源已取完",
  duplicate_open_ticket: () => "该群众已有此业务的号码",
  priority_not_allowed: () => "当前账号不能发放此类号码",
  already_rated: () => "该号码已经评价过",
  rating_needs_reason: () => "不满意评价请选择原因",
  rating_closed: () => "该号码已超过评价期限",
  case_step_out_of_order: () => "差评工单当前环节不能进行此操作，请刷新后按顺序办理",
  appeal_not_allowed: () => "该差评当前不能申诉（每件差评只能申诉一次，且须在整改前提出）",
  database_unavailable: () => "系统数据库暂时无法访问，请稍后重试；如持续出现请联系管理员",
  batch_aborted: () => "系统繁忙，本次操作未完成，请重试",
  method_not_allowed: () => "操作方式不正确（请联系管理员）",
  payload_too_large: () => "提交的内容过大",
  account_exists: () => "该用户名已被使用，请换一个",
  station_kind: () => "远程服务站只能添加“服务站上报”设备，本地大厅不能添加",
  not_a_station: () => "该大厅未登记为本区县下的远程服务站",
  region_refused: () => "区划代码与上级不符（下级代码须以上级代码开头，且层级更低）",
  region_in_use: () => "该区划下仍有下级区划、大厅或账号，不能删除",
  appeal_decided_by_region: () => "本大厅的申诉由上级区域管理员复核，大厅管理人员不能复核",
  alert_resolved: () => "该告警或建议已处理过（可能已被其他管理员处理）",
  conflict: () => "操作与当前状态冲突，请刷新后重试",
};

/** A Chinese sentence for a refusal: its problem+json body, a Problem error from
 * session.js' api() (its body), or any other Error; `own`: a page's own words for some
 * codes (code -> sentence), said instead of the common ones. */
export function messageFor(problem, own = {}) {
  if (problem && problem.problem) problem = problem.problem;
  if (!problem) return "操作未完成，请重试";
  if (problem instanceof Error) {
    return problem.name === "TypeError"
      ? "无法连接服务器，请检查网络后重试"
      : `操作未完成：${problem.message}`;
  }
  if (own[problem.code]) return own[problem.code];
  const make = MESSAGES[problem.code];
  if (make) return make(problem);
  if (problem.status >= 500) return "服务器暂时无法处理，请稍后重试";
  return `操作未完成（${problem.code || problem.status}）`;
}

export const knownCodes = Object.keys(MESSAGES);
