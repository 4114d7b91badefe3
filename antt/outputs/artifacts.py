"""What a flow run shows in the Prefect UI: a Markdown summary and a table of issues (pure; the flow publishes)."""

from __future__ import annotations

from antt.outputs.document import kpis
from antt.scoring.results import CycleResults

TABLE_ROWS = 1000


def summary_markdown(res: CycleResults, folder: str) -> str:
    k = kpis(res.ranked)
    severity = res.issues["severity"].value_counts()
    lines = [
        f"# {res.cycle.label} {res.cycle.id}",
        "",
        "| | |", "|---|---|",
        f"| Trường phải báo cáo | {k['expected']} |",
        f"| Đã gửi, được tính | {k['submitted']} (đúng hạn {k['on_time']}, muộn {k['late']}) |",
        f"| Cần chỉnh sửa | {k['needs_correction']} |",
        f"| Chưa gửi | {k['missing']} |",
        f"| Đạt tiêu chuẩn | {k['dat']} |",
        f"| Vấn đề dữ liệu | {int(severity.get('error', 0))} lỗi, {int(severity.get('warning', 0))} cảnh báo, "
        f"{int(severity.get('info', 0))} ghi chú |",
        "",
        f"Báo cáo: `{folder}/report.html`",
    ]
    return "\n".join(lines)


def issues_table(res: CycleResults) -> list[dict]:
    """Errors first, then warnings; at most TABLE_ROWS rows (issues.csv always has them all)."""
    order = res.issues["severity"].map({"error": 0, "warning": 1, "info": 2})
    issues = res.issues.assign(_o=order).sort_values(["_o", "sheet_row"], kind="stable").head(TABLE_ROWS)
    return issues[["school_code", "sheet_row", "question_id", "severity", "message"]].astype(object).where(
        issues.notna(), None).to_dict("records") if len(issues) else []
