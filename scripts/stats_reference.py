"""Reference values for attune-core's `stats` module, from numpy, scipy and statsmodels.

Run through scripts/stats-reference.sh (which makes the virtualenv); writes
testdata/stats/reference.json. Every fixture is deterministic (fixed seeds, fixed numbers),
so re-running with the same library versions rewrites the same file.

Where no library implements a quantity (relative-lift delta method, ratio metrics, CUPED,
mSPRT), the published closed form is evaluated here with numpy on the same inputs; the
comment on each section says which. Keys mirror the Rust tests in crates/attune-core/src/stats.
"""

import json
import math
import sys
from importlib.metadata import version

import numpy as np
from scipy import integrate, optimize, special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

f = float  # numpy scalars -> plain floats (json writes the shortest round-trip repr)


def z_two_sided(confidence):
    return stats.norm.ppf(0.5 + 0.5 * confidence)


def delta_lift(a, var_a, b, var_b, confidence):
    """Var(b/a) ~= var_b/a^2 + b^2 var_a/a^4 (Deng et al. 2018); normal interval."""
    se = math.sqrt(var_b / a**2 + b**2 * var_a / a**4)
    lift = b / a - 1
    h = z_two_sided(confidence) * se
    return {"lift": f(lift), "lift_se": f(se), "lift_low": f(lift - h), "lift_high": f(lift + h)}


# ---------------------------------------------------------------------------------------------
def dist():
    normal = [
        {"x": f(x), "cdf": f(stats.norm.cdf(x)), "sf": f(stats.norm.sf(x))}
        for x in [-37, -20, -8, -5, -3, -1.96, -1, -0.1, 0, 1e-4, 0.5, 1, 1.96, 3, 5, 8, 20, 37]
    ]
    normal_ppf = [
        {"p": f(p), "x": f(stats.norm.ppf(p))}
        for p in [1e-300, 1e-20, 1e-10, 1e-5, 0.001, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95,
                  0.975, 0.995, 0.999, 1 - 1e-10]
    ]
    dfs = [1, 2, 3.5, 9.3, 30, 57.2, 200, 1e4, 1e6, 4e6]
    t = [
        {"x": f(x), "df": f(df), "cdf": f(stats.t.cdf(x, df)), "sf": f(stats.t.sf(x, df))}
        for df in dfs
        for x in [-40, -6, -2.5, -1, -1e-3, 0, 1e-3, 0.7, 1.5, 2.5, 6, 40]
    ]
    t_ppf = [
        {"p": f(p), "df": f(df), "x": f(stats.t.ppf(p, df))}
        for df in dfs
        for p in [1e-12, 1e-6, 0.001, 0.025, 0.05, 0.2, 0.5, 0.8, 0.9, 0.95, 0.975, 0.995, 0.9995]
    ]
    chi2 = [
        {"x": f(x), "df": f(df), "sf": f(stats.chi2.sf(x, df))}
        for df in [1, 2, 3, 5, 10, 19]
        for x in [1e-3, 0.1, 1, 2, 3.84, 10, 30, 80, 200, 800]
    ]
    beta = [
        {"a": f(a), "b": f(b), "x": f(x), "betaln": f(special.betaln(a, b)),
         "betainc": f(special.betainc(a, b, x))}
        for a, b, x in [(2, 3, 0.4), (0.5, 0.5, 0.01), (1, 7, 0.2), (30.5, 1000.5, 0.03),
                        (0.5, 5e5, 1e-6), (5e5, 0.5, 0.999999), (41, 959, 0.05),
                        (1e4, 2e5, 0.048), (9.5, 11.5, 0.5)]
    ]
    return {"normal": normal, "normal_ppf": normal_ppf, "t": t, "t_ppf": t_ppf, "chi2": chi2,
            "beta": beta}


# ---------------------------------------------------------------------------------------------
def proportions():
    """z: statsmodels proportions_ztest (pooled); diff CI: confint_proportions_2indep wald;
    lift: delta method in numpy; chi-square: scipy chi2_contingency on the 2 x k table."""
    two = []
    for name, xa, na, xb, nb, conf in [
        ("small balanced", 12, 250, 19, 260, 0.95),
        ("typical 5%", 2412, 50000, 2563, 50100, 0.95),
        ("unbalanced 10/90", 530, 10000, 5010, 90000, 0.90),
        ("low rate 2%", 198, 10000, 241, 10000, 0.99),
        ("10% rate, B worse", 1023, 10000, 981, 10050, 0.95),
        ("huge n", 201234, 5000000, 203876, 5000000, 0.95),
        ("tiny", 1, 20, 4, 22, 0.95),
        ("B has no conversions", 3, 510, 0, 500, 0.95),
    ]:
        z, p = proportions_ztest([xb, xa], [nb, na])
        low, high = confint_proportions_2indep(xb, nb, xa, na, method="wald", compare="diff",
                                               alpha=1 - conf)
        pa, pb = xa / na, xb / nb
        two.append({
            "name": name, "a_successes": xa, "a_trials": na, "b_successes": xb, "b_trials": nb,
            "confidence": conf, "z": f(z), "z_p": f(p), "diff": f(pb - pa),
            "diff_low": f(low), "diff_high": f(high),
            **delta_lift(pa, pa * (1 - pa) / na, pb, pb * (1 - pb) / nb, conf),
        })
    chi = []
    for name, succ, trials in [
        ("two groups", [120, 151], [5000, 4800]),
        ("two groups, small counts", [3, 9], [40, 38]),
        ("three arms", [480, 530, 512], [10000, 10000, 10000]),
        ("four arms unbalanced", [52, 230, 61, 118], [1000, 5000, 1100, 2500]),
        ("ten percent rate", [1023, 1101], [10000, 10050]),
    ]:
        table = np.array([succ, [n - s for s, n in zip(succ, trials)]])
        plain = stats.chi2_contingency(table, correction=False)
        yates = stats.chi2_contingency(table, correction=True)
        chi.append({
            "name": name, "successes": succ, "trials": trials, "df": f(plain.dof),
            "plain_chi2": f(plain.statistic), "plain_p": f(plain.pvalue),
            "yates_chi2": f(yates.statistic), "yates_p": f(yates.pvalue),
        })
    return {"two_groups": two, "chi_square": chi}


# ---------------------------------------------------------------------------------------------
def welch_from_stats(name, a, b, conf):
    """scipy ttest_ind_from_stats(equal_var=False) with B first (statistic = B - A); the
    interval: diff +- t.ppf(., df) se with scipy's t."""
    (na, ma, va), (nb, mb, vb) = a, b
    res = stats.ttest_ind_from_stats(mb, math.sqrt(vb), nb, ma, math.sqrt(va), na,
                                     equal_var=False)
    sa, sb = va / na, vb / nb
    df = (sa + sb) ** 2 / (sa**2 / (na - 1) + sb**2 / (nb - 1))
    se = math.sqrt(sa + sb)
    h = stats.t.ppf(0.5 + 0.5 * conf, df) * se
    return {
        "name": name, "a_n": na, "a_mean": f(ma), "a_variance": f(va), "b_n": nb,
        "b_mean": f(mb), "b_variance": f(vb), "confidence": conf,
        "t": f(res.statistic), "p": f(res.pvalue), "df": f(df),
        "diff": f(mb - ma), "diff_low": f(mb - ma - h), "diff_high": f(mb - ma + h),
        **delta_lift(ma, sa, mb, sb, conf),
    }


def means():
    summaries = [
        welch_from_stats("revenue per user", (5000, 12.3, 2500.0), (5100, 12.9, 2800.0), 0.95),
        welch_from_stats("tiny groups", (3, 4.0, 2.5), (5, 6.5, 9.0), 0.95),
        welch_from_stats("unbalanced 1k/9k", (1000, 3.1, 4.4), (9000, 3.02, 4.1), 0.90),
        welch_from_stats("huge n", (2000000, 1.871, 30.2), (2000000, 1.879, 30.9), 0.95),
        welch_from_stats("unequal variances", (40, 10.0, 1.0), (400, 10.4, 100.0), 0.99),
    ]
    rng = np.random.default_rng(20261205)
    samples = []
    for name, na, nb, gen in [
        ("lognormal revenue", 40, 55, lambda n, s: np.round(rng.lognormal(1.0 + s, 1.2, n), 4)),
        ("zero-inflated spend", 300, 250,
         lambda n, s: np.round(rng.binomial(1, 0.08, n) * rng.lognormal(3.0 + s, 1.0, n), 4)),
        ("sessions (negative binomial)", 200, 230,
         lambda n, s: rng.negative_binomial(2, 0.25 - s, n).astype(float)),
    ]:
        xa, xb = gen(na, 0.0), gen(nb, 0.05)
        res = stats.ttest_ind(xb, xa, equal_var=False)
        conf = 0.95
        ci = res.confidence_interval(confidence_level=conf)
        case = welch_from_stats(name, (na, xa.mean(), xa.var(ddof=1)),
                                (nb, xb.mean(), xb.var(ddof=1)), conf)
        case.update({"a": [f(v) for v in xa], "b": [f(v) for v in xb], "t": f(res.statistic),
                     "p": f(res.pvalue), "df": f(res.df), "diff_low": f(ci.low),
                     "diff_high": f(ci.high)})
        samples.append(case)
    return {"summaries": summaries, "samples": samples}


# ---------------------------------------------------------------------------------------------
def ratio_group(x, y):
    """Deng et al. (2018): Var(xbar/ybar) ~= (s_x^2 - 2 R s_xy + R^2 s_y^2) / (n ybar^2),
    sample (co)variances from np.cov (ddof=1)."""
    n = len(x)
    r = x.sum() / y.sum()
    c = np.cov(x, y)
    var = (c[0, 0] - 2 * r * c[0, 1] + r * r * c[1, 1]) / (n * y.mean() ** 2)
    return r, var


def ratio():
    rng = np.random.default_rng(20261206)

    def users(n, ctr):
        impressions = 1 + rng.poisson(rng.gamma(2.0, 4.0, n))
        clicks = rng.binomial(impressions, rng.beta(2.0, 2.0 / ctr - 2.0, n))
        return clicks.astype(float), impressions.astype(float)

    cases = []
    for name, na, nb, ctr_a, ctr_b, conf, keep_rows in [
        ("per-user rows", 200, 240, 0.05, 0.06, 0.95, True),
        ("per-user rows, 10% CTR", 150, 120, 0.10, 0.095, 0.90, True),
        ("sums of 50k users", 50000, 50500, 0.03, 0.031, 0.95, False),
    ]:
        (xa, ya), (xb, yb) = users(na, ctr_a), users(nb, ctr_b)
        ra, va = ratio_group(xa, ya)
        rb, vb = ratio_group(xb, yb)
        z = (rb - ra) / math.sqrt(va + vb)
        h = z_two_sided(conf) * math.sqrt(va + vb)
        case = {"name": name, "confidence": conf, "a_ratio": f(ra), "a_se": f(math.sqrt(va)),
                "b_ratio": f(rb), "b_se": f(math.sqrt(vb)), "z": f(z),
                "p": f(2 * stats.norm.sf(abs(z))), "diff_low": f(rb - ra - h),
                "diff_high": f(rb - ra + h), **delta_lift(ra, va, rb, vb, conf)}
        for g, x, y in [("a", xa, ya), ("b", xb, yb)]:
            if keep_rows:
                case[f"{g}_x"] = [f(v) for v in x]
                case[f"{g}_y"] = [f(v) for v in y]
            else:  # integer counts: the sums are exact
                case.update({f"{g}_n": len(x), f"{g}_sum_x": f(x.sum()), f"{g}_sum_y": f(y.sum()),
                             f"{g}_sum_xx": f((x * x).sum()), f"{g}_sum_yy": f((y * y).sum()),
                             f"{g}_sum_xy": f((x * y).sum())})
        cases.append(case)
    return {"cases": cases}


# ---------------------------------------------------------------------------------------------
def srm():
    """scipy.stats.chisquare(observed, f_exp = shares * total); mismatch when p < 0.001."""
    cases = []
    for name, observed, shares in [
        ("50/50 fine", [50120, 49880], [0.5, 0.5]),
        ("50/50 mismatch", [50600, 49400], [0.5, 0.5]),
        ("three equal arms", [33500, 33200, 33300], [1 / 3, 1 / 3, 1 / 3]),
        ("10/90 rollout", [10000, 90500], [0.1, 0.9]),
        ("small experiment", [11, 9], [0.5, 0.5]),
        ("20/40/40", [2010, 4120, 3870], [0.2, 0.4, 0.4]),
    ]:
        total = sum(observed)
        res = stats.chisquare(observed, f_exp=[s * total for s in shares])
        cases.append({"name": name, "observed": observed, "shares": shares,
                      "chi2": f(res.statistic), "p": f(res.pvalue),
                      "mismatch": bool(res.pvalue < 0.001)})
    return {"cases": cases}


# ---------------------------------------------------------------------------------------------
def cuped():
    """Deng et al. (2013): theta = cov(x, y)/var(x) on both arms pooled (np.cov, ddof=1),
    y_cv = y - theta (x - mean x pooled); scipy ttest_ind(equal_var=False) on y_cv."""
    rng = np.random.default_rng(20261207)
    cases = []
    for name, na, nb, effect in [("spend, correlated pre-period", 300, 320, 0.8),
                                 ("sessions, weak covariate", 150, 140, 0.3)]:
        def arm(n, lift):
            habit = rng.gamma(2.0, 5.0, n)
            x = np.round(habit * rng.lognormal(0, 0.3, n), 3)           # pre-period
            y = np.round(habit * rng.lognormal(0, 0.3, n) + lift, 3)    # experiment period
            return x, y
        if name.startswith("sessions"):
            def arm(n, lift):  # noqa: F811 - a different, weaker relation
                x = rng.poisson(5.0, n).astype(float)
                y = np.round(0.3 * x + rng.gamma(2.0, 2.0, n) + lift, 3)
                return x, y
        (xa, ya), (xb, yb) = arm(na, 0.0), arm(nb, effect)
        x, y = np.concatenate([xa, xb]), np.concatenate([ya, yb])
        c = np.cov(x, y)
        theta = c[0, 1] / c[0, 0]
        rho = c[0, 1] / math.sqrt(c[0, 0] * c[1, 1])
        adj_a = ya - theta * (xa - x.mean())
        adj_b = yb - theta * (xb - x.mean())
        res = stats.ttest_ind(adj_b, adj_a, equal_var=False)
        cases.append({
            "name": name, "a_x": [f(v) for v in xa], "a_y": [f(v) for v in ya],
            "b_x": [f(v) for v in xb], "b_y": [f(v) for v in yb], "theta": f(theta),
            "variance_factor": f(1 - rho**2), "a_adjusted_mean": f(adj_a.mean()),
            "a_adjusted_variance": f(adj_a.var(ddof=1)), "b_adjusted_mean": f(adj_b.mean()),
            "b_adjusted_variance": f(adj_b.var(ddof=1)), "t": f(res.statistic),
            "p": f(res.pvalue),
        })
    return {"cases": cases}


# ---------------------------------------------------------------------------------------------
def power():
    """statsmodels NormalIndPower. Its solve_power stops at brentq_expanding's xtol = 1e-5, so
    the exact root of the same power function is re-solved here with brentq(xtol=1e-15), and
    solve_power's own answer is kept beside it (`*_statsmodels`)."""
    ip = NormalIndPower()

    def exact_nobs(es, alpha, pw, ratio):
        g = lambda n: ip.power(es, n, alpha, ratio) - pw  # noqa: E731
        return optimize.brentq(g, 1e-6, 1e12, xtol=1e-15, rtol=4 * np.finfo(float).eps)

    def exact_effect(n, alpha, pw, ratio):
        g = lambda d: ip.power(d, n, alpha, ratio) - pw  # noqa: E731
        return optimize.brentq(g, 1e-12, 100, xtol=1e-15, rtol=4 * np.finfo(float).eps)

    props = []
    for name, pa, pb, pw, alpha, ratio, n in [
        ("5% to 6%", 0.05, 0.06, 0.8, 0.05, 1.0, 5000.0),
        ("2% to 2.2%, power 0.9", 0.02, 0.022, 0.9, 0.05, 1.0, 100000.0),
        ("10% to 11%, alpha 0.01, ratio 2", 0.10, 0.11, 0.8, 0.01, 2.0, 20000.0),
        ("3% down to 2.5%, ratio 0.5", 0.03, 0.025, 0.8, 0.05, 0.5, 30000.0),
    ]:
        h = proportion_effectsize(pb, pa)
        h_mde = exact_effect(n, alpha, pw, ratio)
        props.append({
            "name": name, "p_a": pa, "p_b": pb, "power": pw, "alpha": alpha, "ratio": ratio,
            "nobs_a": n, "h": f(h),
            "sample_size": f(exact_nobs(h, alpha, pw, ratio)),
            "sample_size_statsmodels": f(ip.solve_power(h, None, alpha, pw, ratio)),
            "power_at_nobs": f(ip.power(h, n, alpha, ratio)),
            "mde": f(math.sin(math.asin(math.sqrt(pa)) + h_mde / 2) ** 2 - pa),
            "mde_h_statsmodels": f(ip.solve_power(None, n, alpha, pw, ratio)),
        })
    mns = []
    for name, delta, sd, pw, alpha, ratio, n in [
        ("revenue +0.5 (sd 25)", 0.5, 25.0, 0.8, 0.05, 1.0, 10000.0),
        ("+2 (sd 40), power 0.9, alpha 0.01", 2.0, 40.0, 0.9, 0.01, 1.0, 5000.0),
        ("-0.1 (sd 1.2), ratio 3", -0.1, 1.2, 0.8, 0.05, 3.0, 2000.0),
    ]:
        d = delta / sd
        mns.append({
            "name": name, "delta": delta, "std_dev": sd, "power": pw, "alpha": alpha,
            "ratio": ratio, "nobs_a": n,
            "sample_size": f(exact_nobs(d, alpha, pw, ratio)),
            "sample_size_statsmodels": f(ip.solve_power(d, None, alpha, pw, ratio)),
            "power_at_nobs": f(ip.power(d, n, alpha, ratio)),
            "mde": f(exact_effect(n, alpha, pw, ratio) * sd),
        })
    return {"proportions": props, "means": mns}


# ---------------------------------------------------------------------------------------------
def msprt_look(d, v, tau2, alpha):
    """Johari et al. (2017/2022), normal mixture N(0, tau2):
    Lambda = sqrt(V/(V+tau2)) exp(tau2 d^2 / (2 V (V+tau2))); the interval is where
    Lambda(theta0) < 1/alpha."""
    log_lambda = 0.5 * math.log(v / (v + tau2)) + tau2 * d * d / (2 * v * (v + tau2))
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
    return log_lambda, d - half, d + half


def sequential():
    rng = np.random.default_rng(20261208)
    streams = []
    for name, pa, pb, per_day, days, tau2, alpha in [
        ("real effect, 14 daily looks", 0.05, 0.058, 800, 14, 0.004**2, 0.05),
        ("A/A, 10 daily looks", 0.03, 0.03, 1500, 10, 0.003**2, 0.10),
    ]:
        xa = np.cumsum(rng.binomial(per_day, pa, days))
        xb = np.cumsum(rng.binomial(per_day, pb, days))
        n = per_day * np.arange(1, days + 1)
        p, low, high = 1.0, -math.inf, math.inf
        out = {"log_lambda": [], "p": [], "low": [], "high": []}
        for k in range(days):
            ra, rb = xa[k] / n[k], xb[k] / n[k]
            v = ra * (1 - ra) / n[k] + rb * (1 - rb) / n[k]
            ll, lo, hi = msprt_look(rb - ra, v, tau2, alpha)
            p = min(p, math.exp(-ll))
            if max(low, lo) <= min(high, hi):  # keep the running interval if they miss
                low, high = max(low, lo), min(high, hi)
            for key, val in zip(out, [ll, p, low, high]):
                out[key].append(f(val))
        streams.append({"name": name, "tau2": tau2, "alpha": alpha,
                        "a_successes": [int(v) for v in xa], "a_trials": [int(v) for v in n],
                        "b_successes": [int(v) for v in xb], "b_trials": [int(v) for v in n],
                        **out})
    single = []
    for name, d, v, tau2, alpha in [
        ("revenue difference", 0.42, 0.031, 0.25, 0.05),
        ("no difference yet", 0.0, 2e-6, 1e-5, 0.05),
        ("large variance", -3.0, 50.0, 1.0, 0.01),
    ]:
        ll, lo, hi = msprt_look(d, v, tau2, alpha)
        single.append({"name": name, "estimate": d, "variance": v, "tau2": tau2, "alpha": alpha,
                       "log_lambda": f(ll), "low": f(lo), "high": f(hi)})
    return {"proportions": streams, "means": single}


# ---------------------------------------------------------------------------------------------
def multiple():
    cases = []
    for name, p in [
        ("five metrics", [0.01, 0.04, 0.03, 0.005, 0.2]),
        ("ties", [0.02, 0.02, 0.5, 0.001]),
        ("one test", [0.03]),
        ("capped at one", [0.6, 0.9, 0.7]),
        ("zeros and ones", [0.0, 1.0, 0.0001, 0.049]),
    ]:
        cases.append({"name": name, "p": p,
                      "adjusted": [f(v) for v in multipletests(p, method="holm")[1]]})
    return {"holm": cases}


# ---------------------------------------------------------------------------------------------
def bayes():
    """P(B > A) = integral f_B(x) F_A(x) dx; E[max(pB - pA, 0)] = integral f_B(x) (x F_A(x) -
    m_A F_A'(x)) dx with A' = Beta(alpha_A + 1, beta_A); scipy.integrate.quad over the posterior
    mass (mean +- 40 sd, clipped to [0, 1])."""
    cases = []
    for name, xa, na, xb, nb, pa_, pb_ in [
        ("4% vs 5.2% on 1000", 40, 1000, 52, 1000, 1, 1),
        ("tiny", 3, 50, 7, 48, 1, 1),
        ("50k users each", 1200, 50000, 1290, 50000, 1, 1),
        ("informative prior", 20, 400, 18, 400, 2, 30),
        ("no data", 0, 0, 0, 0, 1, 1),
        ("B clearly better", 100, 10000, 190, 10000, 1, 1),
        ("100k users each", 5000, 100000, 5150, 100000, 1, 1),
    ]:
        aa, ba = pa_ + xa, pb_ + na - xa
        ab, bb = pa_ + xb, pb_ + nb - xb
        A, B = stats.beta(aa, ba), stats.beta(ab, bb)
        A1, B1 = stats.beta(aa + 1, ba), stats.beta(ab + 1, bb)
        lo = max(0.0, min(A.mean() - 40 * A.std(), B.mean() - 40 * B.std()))
        hi = min(1.0, max(A.mean() + 40 * A.std(), B.mean() + 40 * B.std()))
        kw = dict(epsabs=1e-16, epsrel=1e-13, limit=2000,
                  points=sorted({A.mean(), B.mean()} & set(np.clip([A.mean(), B.mean()], lo, hi))))
        prob = integrate.quad(lambda x: B.pdf(x) * A.cdf(x), lo, hi, **kw)[0]
        loss_a = integrate.quad(lambda x: B.pdf(x) * (x * A.cdf(x) - A.mean() * A1.cdf(x)),
                                lo, hi, **kw)[0]
        loss_b = integrate.quad(lambda x: A.pdf(x) * (x * B.cdf(x) - B.mean() * B1.cdf(x)),
                                lo, hi, **kw)[0]
        cases.append({"name": name, "a_successes": xa, "a_trials": na, "b_successes": xb,
                      "b_trials": nb, "prior_alpha": f(pa_), "prior_beta": f(pb_),
                      "prob_b_beats_a": f(prob), "loss_a": f(loss_a), "loss_b": f(loss_b)})
    return {"cases": cases}


def main(out_path):
    data = {
        "generated_by": "scripts/stats-reference.sh",
        "versions": {p: version(p) for p in ["numpy", "scipy", "statsmodels"]},
        "dist": dist(), "proportions": proportions(), "means": means(), "ratio": ratio(),
        "srm": srm(), "cuped": cuped(), "power": power(), "sequential": sequential(),
        "multiple": multiple(), "bayes": bayes(),
    }
    with open(out_path, "w") as fh:
        fh.write(dumps(data) + "\n")


def dumps(obj, depth=0):
    """JSON with one fixture per line: readable diffs, a small file."""
    pad = " " * (depth + 1)
    if isinstance(obj, dict) and any(isinstance(v, (dict, list)) for v in obj.values()) \
            and depth < 2:
        items = [f"{pad}{json.dumps(k)}: {dumps(v, depth + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        items = [pad + json.dumps(v, separators=(",", ":")) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"
    return json.dumps(obj, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "testdata/stats/reference.json")
