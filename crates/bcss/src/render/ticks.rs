//! Axis ticks whose labels say their value.
//!
//! The old bitmap chart labelled ticks at 12.5 and 37.5 as "12%" and "38%". Here a tick is a
//! value and a label printed from it with as many decimals as the step needs, so parsing a label
//! gives back its value: linear axes step by 1, 2, 2.5 or 5 times a power of ten
//! (`linear`); log axes put a tick on every power of ten, labelled with SI prefixes
//! (`1`, `10`, `100`, `1k`, ..., `1G`: exact powers of ten, `log10`).

/// One tick: where it is and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// The axis value.
    pub value: f64,
    /// The label, `value` printed (with `suffix` for linear axes).
    pub label: String,
}

/// Ticks from 0 to the first tick at or above `max` (`max <= 0` is taken as 1), about
/// `target` intervals (at least 1), each label the value with `suffix` (e.g. `%`).
/// Returns the axis end (the last tick) and the ticks.
pub(crate) fn linear(max: f64, target: usize, suffix: &str) -> (f64, Vec<Tick>) {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let raw = max / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let (mantissa, extra) = [(1.0, 0), (2.0, 0), (2.5, 1), (5.0, 0), (10.0, 0)]
        .into_iter()
        .find(|&(m, _)| m * mag >= raw)
        .unwrap_or((10.0, 0));
    let step = mantissa * mag;
    // Decimals the step needs: 0.25 needs 2, 2.5 needs 1, 50 needs 0.
    let decimals = ((-(step.log10().floor())).max(0.0) as usize + extra).min(12);
    let decimals = if step >= 10.0 && extra == 1 { 0 } else { decimals };
    let n = (max / step - 1e-9).ceil().max(1.0) as usize;
    let ticks = (0..=n)
        .map(|i| {
            // Rounded to the printed precision so value and label agree to the last digit.
            let value = round_to(i as f64 * step, decimals);
            Tick { value, label: format!("{value:.decimals$}{suffix}") }
        })
        .collect::<Vec<_>>();
    (ticks.last().map_or(1.0, |t| t.value), ticks)
}

fn round_to(v: f64, decimals: usize) -> f64 {
    let f = 10f64.powi(decimals as i32);
    (v * f).round() / f
}

/// Decades covering `[min, max]` (both > 0; `min` is raised to 1 and `max` to `min`):
/// returns the axis range `(10^a, 10^b)` and a tick per power of ten in it.
pub(crate) fn log10(min: f64, max: f64) -> ((f64, f64), Vec<Tick>) {
    let min = if min.is_finite() && min >= 1.0 { min } else { 1.0 };
    let max = if max.is_finite() && max > min { max } else { min * 10.0 };
    let (a, b) = (min.log10().floor() as i32, max.log10().ceil() as i32);
    let ticks = (a..=b).map(|e| Tick { value: 10f64.powi(e), label: si_power_of_ten(e) }).collect();
    ((10f64.powi(a), 10f64.powi(b)), ticks)
}

/// `10^e` for e >= 0 as `1`, `10`, `100`, `1k`, `10k`, ..., `1G`, `10G`, ... (`e` beyond the
/// prefixes: `1e15` style).
pub(crate) fn si_power_of_ten(e: i32) -> String {
    const PREFIXES: [&str; 5] = ["", "k", "M", "G", "T"];
    if !(0..15).contains(&e) {
        return format!("1e{e}");
    }
    let (group, rest) = (e / 3, e % 3);
    format!("{}{}", 10u32.pow(rest as u32), PREFIXES[group as usize])
}

/// The value of a label made by [`linear`] (with its suffix removed) or [`log10`] (for tests).
#[cfg(test)]
pub(crate) fn parse_label(label: &str, suffix: &str) -> Option<f64> {
    let s = label.strip_suffix(suffix).unwrap_or(label);
    if let Ok(v) = s.parse::<f64>() {
        return Some(v);
    }
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'G' => (&s[..s.len() - 1], 1e9),
        'T' => (&s[..s.len() - 1], 1e12),
        _ => return None,
    };
    num.parse::<f64>().ok().map(|v| v * mult)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_old_charts_ticks_read_as_their_values() {
        let (top, ticks) = linear(40.0, 4, "%");
        let labels: Vec<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0%", "10%", "20%", "30%", "40%"]);
        assert_eq!(top, 40.0);
        let (top, ticks) = linear(10.0, 4, "%");
        assert_eq!(
            ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
            ["0.0%", "2.5%", "5.0%", "7.5%", "10.0%"]
        );
        assert_eq!(top, 10.0);
        let (top, ticks) = linear(48.0, 4, "%");
        assert_eq!(ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["0%", "20%", "40%", "60%"]);
        assert_eq!(top, 60.0);
        let (_, ticks) = linear(0.7, 5, "");
        assert_eq!(ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["0.0", "0.2", "0.4", "0.6", "0.8"]);
    }

    #[test]
    fn log_ticks_are_decades_with_si_labels() {
        let ((lo, hi), ticks) = log10(350.0, 2.4e9);
        assert_eq!((lo, hi), (100.0, 1e10));
        assert_eq!(
            ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
            ["100", "1k", "10k", "100k", "1M", "10M", "100M", "1G", "10G"]
        );
        assert_eq!(log10(0.0, 0.0).1.len(), 2, "degenerate input still gives an axis");
    }

    proptest! {
        #[test]
        fn every_label_parses_to_its_value(max in 1e-6f64..1e12, target in 1usize..12) {
            let (top, ticks) = linear(max, target, "%");
            prop_assert!(top >= max * (1.0 - 1e-9), "the axis covers the data: {top} < {max}");
            prop_assert!(ticks.len() >= 2 && ticks.len() <= 2 * target + 3, "{} ticks for {target}", ticks.len());
            for t in &ticks {
                let v = parse_label(&t.label, "%").unwrap();
                prop_assert!((v - t.value).abs() <= 1e-9 * t.value.abs().max(1.0), "{} vs {}", t.label, t.value);
            }
            for w in ticks.windows(2) {
                prop_assert!(w[1].value > w[0].value);
            }
        }

        #[test]
        fn log_labels_parse_to_their_values(a in 0f64..13.0, span in 0.1f64..6.0) {
            let (min, max) = (10f64.powf(a), 10f64.powf(a + span));
            let ((lo, hi), ticks) = log10(min, max);
            prop_assert!(lo <= min && hi >= max * (1.0 - 1e-12));
            for t in &ticks {
                prop_assert_eq!(parse_label(&t.label, ""), Some(t.value));
            }
        }
    }
}
