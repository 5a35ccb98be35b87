//! A quality report as Markdown. Category names and reasons come from the data: they are shown
//! only inside code spans.

use std::fmt::Write as _;

use mlops_engine::check_performance::CheckPerformanceOutput;
use mlops_engine::untrusted::table_code;

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_owned(), |v| format!("{v:.4}"))
}

pub fn markdown(o: &CheckPerformanceOutput) -> String {
    let mut md = format!(
        "# Quality report {}\n\nModel `{}`, checked {} over {}: {} rows with a prediction, {} labelled ({:.0} %).\n\n**Recommended action: {}**\n\n",
        o.report_id,
        o.model,
        o.checked_at.format("%Y-%m-%d %H:%M UTC"),
        o.window,
        o.rows,
        o.labelled_rows,
        o.labelled_share * 100.0,
        o.recommended_action.as_str()
    );
    for r in &o.reasons {
        let _ = writeln!(md, "- {}", table_code(r));
    }
    md.push_str("\n| metric | value | 95 % interval |\n|---|---|---|\n");
    for (name, e) in &o.metrics {
        let interval = e.interval.map_or("—".to_owned(), |i| {
            format!("[{:.4}, {:.4}]", i.low, i.high)
        });
        let _ = writeln!(md, "| `{name}` | {} | {interval} |", num(e.value));
    }
    if !o.degraded.is_empty() {
        md.push_str("\n| degraded | value | champion | change |\n|---|---|---|---|\n");
        for d in &o.degraded {
            let _ = writeln!(
                md,
                "| `{}` | {:.4} | {:.4} | {:+.4} |",
                d.metric, d.value, d.champion, d.change
            );
        }
    }
    if !o.segments.is_empty() {
        md.push_str("\n| feature | category | labelled rows | metric | value | vs window |\n|---|---|---|---|---|---|\n");
        for s in &o.segments {
            let _ = writeln!(
                md,
                "| {} | {} | {} | `{}` | {} | {} |",
                table_code(&s.feature),
                table_code(&s.category),
                s.count,
                s.metric,
                num(s.value),
                num(s.versus_window)
            );
        }
    }
    md
}
