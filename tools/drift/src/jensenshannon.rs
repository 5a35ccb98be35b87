//! Jensen-Shannon distance as `scipy.spatial.distance.jensenshannon` (natural log) on
//! Evidently's bins without zero fill.

pub fn jensenshannon(p_ref: &[f64], p_cur: &[f64]) -> f64 {
    let (sr, sc): (f64, f64) = (p_ref.iter().sum(), p_cur.iter().sum());
    let rel_entr = |x: f64, y: f64| if x > 0.0 { x * (x / y).ln() } else { 0.0 };
    let js: f64 = p_ref
        .iter()
        .zip(p_cur)
        .map(|(a, b)| {
            let (p, q) = (a / sr, b / sc);
            let m = (p + q) / 2.0;
            rel_entr(p, m) + rel_entr(q, m)
        })
        .sum();
    (js / 2.0).max(0.0).sqrt()
}
