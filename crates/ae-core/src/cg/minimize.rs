//! Rasmussen's `minimize` (the 2006-09-08 version distributed with Hinton &
//! Salakhutdinov's code): Polak–Ribière conjugate directions and a line search that
//! extrapolates with cubics, then interpolates with quadratics or cubics, until the
//! Wolfe–Powell conditions hold, with the slope-ratio guess for the next initial step.
//!
//! A Rust reading of the published algorithm, on the parameters' own f32 vectors updated in
//! place: per evaluation the solver makes two passes over the parameters (the trial point,
//! its slope), where argmin's owned-vector operations made about ten (issue 20: the
//! overhead beyond the forward and backward passes). Products accumulate in f64.

use rayon::prelude::*;

use crate::error::Result;

/// Don't evaluate within this fraction of a bracket's ends.
const INT: f64 = 0.1;
/// Extrapolate at most this many times the current step.
const EXT: f64 = 3.0;
/// Evaluations per line search, at most.
const MAX: usize = 20;
/// The next initial step grows at most this many times (slope ratio).
const RATIO: f64 = 10.0;
/// Wolfe–Powell curvature condition: |slope| ≤ SIG × |initial slope|.
const SIG: f64 = 0.1;
/// Sufficient decrease: f ≤ f0 + RHO × step × initial slope.
const RHO: f64 = SIG / 2.0;

/// A differentiable function of a flat parameter vector.
pub trait Objective {
    /// The value at `x` and its gradient (same length as `x`), which may be written into
    /// `spare` (a gradient the search no longer needs, or empty) to reuse its memory. A
    /// non-finite value or gradient is allowed (the line search steps back); an error
    /// stops the search.
    fn eval(&mut self, x: &[f32], spare: Vec<f32>) -> Result<(f64, Vec<f32>)>;
}

/// What [`minimize`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimized {
    /// The value at the start, then after every successful line search.
    pub values: Vec<f64>,
    /// The value at the returned point.
    pub value: f64,
    /// Evaluations spent, the first (at the start) included.
    pub evaluations: usize,
    /// Whether the returned point is the last one evaluated (the caller may keep what
    /// it built there instead of rebuilding it).
    pub at_last_evaluation: bool,
}

/// Values per task of the vector loops (rayon): a fixed split, so every dot product adds
/// the same partial sums in the same order whatever the thread count.
const CHUNK: usize = 1 << 15;

/// `a·b` accumulated in f64.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let partial: Vec<f64> = a
        .par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(a, b)| dot_serial(a, b))
        .collect();
    partial.iter().sum()
}

fn dot_serial(a: &[f32], b: &[f32]) -> f64 {
    // Eight running sums: one would be a serial chain of dependent adds; eight vectorise.
    let mut acc = [0.0f64; 8];
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    for (a, b) in ca.iter().zip(cb) {
        for k in 0..8 {
            acc[k] += f64::from(a[k]) * f64::from(b[k]);
        }
    }
    let tail: f64 = ra
        .iter()
        .zip(rb)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum();
    acc.iter().sum::<f64>() + tail
}

/// `out[i] = f(out[i], a[i])` over fixed chunks in parallel.
fn zip_apply(out: &mut [f32], a: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK))
        .for_each(|(o, a)| o.iter_mut().zip(a).for_each(|(o, &a)| *o = f(*o, a)));
}

/// `out = x + t·s`; the one formula for trial points and accepted steps, so an accepted
/// point is bit for bit the point that was evaluated.
fn step_into(out: &mut [f32], x: &[f32], t: f64, s: &[f32]) {
    let t = t as f32;
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(s.par_chunks(CHUNK)))
        .for_each(|(o, (x, s))| {
            for ((o, &x), &s) in o.iter_mut().zip(x).zip(s) {
                *o = x + t * s;
            }
        });
}

fn step_in_place(x: &mut [f32], t: f64, s: &[f32]) {
    let t = t as f32;
    zip_apply(x, s, |x, s| x + t * s);
}

/// `s = -g`, returning the slope `s·g = -|g|²`.
fn steepest(s: &mut [f32], g: &[f32]) -> f64 {
    zip_apply(s, g, |_, g| -g);
    -dot(g, g)
}

/// One evaluated point on the line: step, value, slope.
#[derive(Clone, Copy)]
struct Point {
    x: f64,
    f: f64,
    d: f64,
}

/// Where the gradient of a line search's best point is: no copy is made of it, since it is
/// needed only if the search fails.
enum BestGrad {
    /// The best point is still the start (its gradient is `df0`).
    Start,
    /// The best point is the last one evaluated (`df3`).
    Current,
    /// An earlier point's, set aside when a later evaluation took `df3`'s place.
    Kept(Vec<f32>),
}

impl BestGrad {
    /// Before a new evaluation replaces `df3`: keep it if it is the best point's.
    fn retire(&mut self, df3: &mut Option<Vec<f32>>) {
        match self {
            BestGrad::Current => {
                *self = df3.take().map_or(BestGrad::Start, BestGrad::Kept);
            }
            BestGrad::Start | BestGrad::Kept(_) => {}
        }
    }
}

/// Minimises `f` from `x` (updated in place) with at most `line_searches` line searches;
/// returns the values reached. Like the original: it stops early after two failed line
/// searches in a row, and `x` ends at the best point found, never worse than the start.
pub fn minimize<O: Objective>(x: &mut [f32], f: &mut O, line_searches: usize) -> Result<Minimized> {
    let n = x.len();
    let (mut f0, mut df0) = f.eval(x, Vec::new())?;
    // Gradients the search is done with, recycled into the next evaluation.
    let mut spare = Vec::new();
    let mut at_last_evaluation = true;
    let mut evaluations = 1;
    let mut values = vec![f0];
    let mut s = vec![0.0f32; n];
    let mut trial = vec![0.0f32; n];
    let mut d0 = steepest(&mut s, &df0);
    if !(f0.is_finite() && d0.is_finite()) {
        // Nowhere to go from a non-finite start; the caller sees the value.
        return Ok(Minimized {
            values,
            value: f0,
            evaluations,
            at_last_evaluation,
        });
    }
    // Initial step 1/(1 + |g|²).
    let mut x3 = 1.0 / (1.0 - d0);
    let mut failed_before = false;
    let mut i = 0;
    while i < line_searches {
        i += 1;
        // The best point of this line search: its step along s, value and gradient.
        let (mut best_x, mut best_f, mut best_df) = (0.0, f0, BestGrad::Start);
        let mut budget = MAX;
        let mut p3;
        let mut df3: Option<Vec<f32>> = None;
        let (mut p2, mut p4);
        // Extrapolate while the slope is still steep and the value low enough.
        loop {
            p2 = Point {
                x: 0.0,
                f: f0,
                d: d0,
            };
            p3 = p2;
            best_df.retire(&mut df3);
            if let Some(g) = df3.take() {
                spare = g;
            }
            while budget > 0 {
                budget -= 1;
                step_into(&mut trial, x, x3, &s);
                let (f3, g3) = f.eval(&trial, std::mem::take(&mut spare))?;
                evaluations += 1;
                let d3 = dot(&g3, &s);
                if f3.is_finite() && d3.is_finite() {
                    p3 = Point {
                        x: x3,
                        f: f3,
                        d: d3,
                    };
                    df3 = Some(g3);
                    break;
                }
                spare = g3;
                // Overflow or a diverging network: halve the step and try again.
                x3 = (p2.x + x3) / 2.0;
            }
            if df3.is_some() && p3.f < best_f {
                (best_x, best_f, best_df) = (p3.x, p3.f, BestGrad::Current);
            }
            if p3.d > SIG * d0 || p3.f > f0 + p3.x * RHO * d0 || budget == 0 {
                break;
            }
            // Cubic extrapolation through points 1 and 2 (= the old 2 and 3).
            let p1 = p2;
            p2 = p3;
            let dx = p2.x - p1.x;
            let a = 6.0 * (p1.f - p2.f) + 3.0 * (p2.d + p1.d) * dx;
            let b = 3.0 * (p2.f - p1.f) - (2.0 * p1.d + p2.d) * dx;
            x3 = p1.x - p1.d * dx * dx / (b + (b * b - a * p1.d * dx).sqrt());
            if !x3.is_finite() || x3 < 0.0 || x3 > p2.x * EXT {
                x3 = p2.x * EXT;
            } else if x3 < p2.x + INT * dx {
                x3 = p2.x + INT * dx;
            }
        }
        // Interpolate inside the bracket [point 2, point 4] until the conditions hold.
        p4 = p3;
        while (p3.d.abs() > -SIG * d0 || p3.f > f0 + p3.x * RHO * d0) && budget > 0 {
            if p3.d > 0.0 || p3.f > f0 + p3.x * RHO * d0 {
                p4 = p3;
            } else {
                p2 = p3;
            }
            let dx = p4.x - p2.x;
            x3 = if p4.f > f0 {
                p2.x - (0.5 * p2.d * dx * dx) / (p4.f - p2.f - p2.d * dx)
            } else {
                let a = 6.0 * (p2.f - p4.f) / dx + 3.0 * (p4.d + p2.d);
                let b = 3.0 * (p4.f - p2.f) - (2.0 * p2.d + p4.d) * dx;
                p2.x + ((b * b - a * p2.d * dx * dx).sqrt() - b) / a
            };
            if !x3.is_finite() {
                x3 = (p2.x + p4.x) / 2.0;
            }
            x3 = x3.min(p4.x - INT * dx).max(p2.x + INT * dx);
            best_df.retire(&mut df3);
            if let Some(g) = df3.take() {
                spare = g;
            }
            step_into(&mut trial, x, x3, &s);
            let (f3, g3) = f.eval(&trial, std::mem::take(&mut spare))?;
            evaluations += 1;
            budget -= 1;
            let d3 = dot(&g3, &s);
            // A non-finite point counts as too high: the bracket shrinks towards point 2.
            let finite = f3.is_finite() && d3.is_finite();
            p3 = Point {
                x: x3,
                f: if finite { f3 } else { f64::INFINITY },
                d: if finite { d3 } else { f64::INFINITY },
            };
            if finite {
                df3 = Some(g3);
            } else {
                spare = g3;
            }
            if finite && f3 < best_f {
                (best_x, best_f, best_df) = (x3, f3, BestGrad::Current);
            }
        }
        let accepted = p3.d.abs() < -SIG * d0 && p3.f < f0 + p3.x * RHO * d0;
        match df3 {
            Some(g3) if accepted => {
                step_in_place(x, p3.x, &s);
                f0 = p3.f;
                values.push(f0);
                // Polak–Ribière: β = (g₃·g₃ − g₀·g₃) / (g₀·g₀).
                let beta = (dot(&g3, &g3) - dot(&df0, &g3)) / dot(&df0, &df0);
                let beta = beta as f32;
                zip_apply(&mut s, &g3, |s, g| beta * s - g);
                spare = std::mem::replace(&mut df0, g3);
                let d_old = d0;
                d0 = dot(&df0, &s);
                if d0 > 0.0 {
                    // Not a descent direction: steepest descent instead.
                    d0 = steepest(&mut s, &df0);
                }
                x3 = p3.x * RATIO.min(d_old / (d0 - f64::MIN_POSITIVE));
                failed_before = false;
                at_last_evaluation = true;
            }
            _ => {
                // Back to the best point seen on this line.
                step_in_place(x, best_x, &s);
                f0 = best_f;
                at_last_evaluation = matches!(best_df, BestGrad::Current);
                match best_df {
                    BestGrad::Start => {}
                    BestGrad::Current => {
                        if let Some(g) = df3 {
                            spare = std::mem::replace(&mut df0, g);
                        }
                    }
                    BestGrad::Kept(g) => spare = std::mem::replace(&mut df0, g),
                }
                // Two failures in a row: no progress is possible from here.
                if failed_before {
                    break;
                }
                d0 = steepest(&mut s, &df0);
                x3 = 1.0 / (1.0 - d0);
                failed_before = true;
            }
        }
    }
    Ok(Minimized {
        values,
        value: f0,
        evaluations,
        at_last_evaluation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CoreError;

    /// A function of a few variables with its gradient by hand; remembers the last point
    /// it was evaluated at.
    struct Fn<F: FnMut(&[f64]) -> (f64, Vec<f64>)> {
        f: F,
        last: Vec<f32>,
    }

    impl<F: FnMut(&[f64]) -> (f64, Vec<f64>)> Fn<F> {
        fn new(f: F) -> Self {
            Fn { f, last: vec![] }
        }

        /// Runs `minimize` from `x` and checks what it says about its last evaluation.
        fn run(&mut self, x: &mut [f32], line_searches: usize) -> Minimized {
            let r = minimize(x, self, line_searches).unwrap();
            if r.at_last_evaluation {
                assert_eq!(self.last, x, "{r:?}");
            }
            r
        }
    }

    impl<F: FnMut(&[f64]) -> (f64, Vec<f64>)> Objective for Fn<F> {
        fn eval(&mut self, x: &[f32], _: Vec<f32>) -> Result<(f64, Vec<f32>)> {
            self.last = x.to_vec();
            let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let (f, g) = (self.f)(&x);
            Ok((f, g.into_iter().map(|v| v as f32).collect()))
        }
    }

    const A: [f64; 5] = [1.0, 4.0, 9.0, 16.0, 25.0];
    const C: [f64; 5] = [1.0, -2.0, 3.0, -4.0, 5.0];

    /// ½ Σ aᵢ (xᵢ − cᵢ)²: minimum 0 at c.
    fn quadratic(x: &[f64]) -> (f64, Vec<f64>) {
        let f = x
            .iter()
            .zip(A.iter().zip(C))
            .map(|(x, (a, c))| 0.5 * a * (x - c) * (x - c))
            .sum();
        let g = x
            .iter()
            .zip(A.iter().zip(C))
            .map(|(x, (a, c))| a * (x - c))
            .collect();
        (f, g)
    }

    fn rosenbrock(x: &[f64]) -> (f64, Vec<f64>) {
        let (a, b) = (x[0], x[1]);
        let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
        let g = vec![
            -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
            200.0 * (b - a * a),
        ];
        (f, g)
    }

    fn decreasing(values: &[f64]) -> bool {
        values.windows(2).all(|w| w[1] < w[0])
    }

    #[test]
    fn solves_a_quadratic_to_its_closed_form_minimum() {
        let mut x = vec![0.0f32; 5];
        let r = Fn::new(quadratic).run(&mut x, 30);
        for (x, c) in x.iter().zip(C) {
            assert!((f64::from(*x) - c).abs() < 1e-4, "{x} vs {c}");
        }
        assert!(decreasing(&r.values), "{:?}", r.values);
        assert!(r.value < 1e-8, "{r:?}");
    }

    #[test]
    fn solves_rosenbrock_from_the_classic_start() {
        let mut x = vec![-1.2f32, 1.0];
        let r = Fn::new(rosenbrock).run(&mut x, 200);
        assert!(
            (x[0] - 1.0).abs() < 1e-3 && (x[1] - 1.0).abs() < 1e-3,
            "{x:?} {r:?}"
        );
        assert!(decreasing(&r.values), "{:?}", r.values);
    }

    #[test]
    fn an_accepted_step_meets_the_wolfe_powell_conditions() {
        let x0 = vec![0.5f32, 0.0, 0.0, 0.0, 0.0];
        let mut x = x0.clone();
        let r = Fn::new(quadratic).run(&mut x, 1);
        assert!(
            r.at_last_evaluation,
            "an accepted step ends where it evaluated"
        );
        assert_eq!(r.values.len(), 2, "{r:?}");
        // Recomputed here: the first direction is steepest descent, s = −g(x0).
        let as64 = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
        let (f0, g0) = quadratic(&as64(&x0));
        let (f1, g1) = quadratic(&as64(&x));
        let s: Vec<f64> = g0.iter().map(|g| -g).collect();
        let ss: f64 = s.iter().map(|v| v * v).sum();
        let moved: Vec<f64> = x.iter().zip(&x0).map(|(a, b)| f64::from(a - b)).collect();
        let t = moved.iter().zip(&s).map(|(m, s)| m * s).sum::<f64>() / ss;
        let d0 = -ss;
        let d1: f64 = g1.iter().zip(&s).map(|(g, s)| g * s).sum();
        assert!(t > 0.0);
        assert!(f1 <= f0 + RHO * t * d0 + 1e-9, "{f1} vs {f0} (t {t})");
        assert!(d1.abs() <= SIG * d0.abs() * (1.0 + 1e-4), "{d1} vs {d0}");
        assert!((r.value - f1).abs() < 1e-6 * f0, "{} vs {f1}", r.value);
    }

    #[test]
    fn steps_back_from_non_finite_values_and_keeps_the_best_point() {
        // −x up to a wall at 4 and NaN beyond: the extrapolation (3× a step) runs into
        // the wall, bisects, and the search must end on the finite side, lower than it began.
        let wall = |x: &[f64]| {
            if x[0] < 4.0 {
                (-x[0], vec![-1.0])
            } else {
                (f64::NAN, vec![f64::NAN])
            }
        };
        let mut x = vec![0.0f32];
        let r = Fn::new(wall).run(&mut x, 3);
        // It ends after failed searches whose best point came before their last (NaN) one.
        assert!(!r.at_last_evaluation, "{r:?}");
        assert!(x[0] > 1.0 && x[0] < 4.0, "{x:?} {r:?}");
        assert_eq!(r.value, -f64::from(x[0]));
        assert!(r.evaluations <= 1 + 3 * MAX, "{r:?}");
    }

    #[test]
    fn an_objective_error_stops_the_search() {
        struct Failing(usize);
        impl Objective for Failing {
            fn eval(&mut self, x: &[f32], _: Vec<f32>) -> Result<(f64, Vec<f32>)> {
                self.0 += 1;
                if self.0 > 2 {
                    return Err(CoreError::Data("read-back failed".into()));
                }
                Ok((f64::from(x[0] * x[0]), vec![2.0 * x[0]]))
            }
        }
        let mut x = vec![3.0f32];
        let e = minimize(&mut x, &mut Failing(0), 3).unwrap_err();
        assert!(e.to_string().contains("read-back failed"), "{e}");
    }
}
