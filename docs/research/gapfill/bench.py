"""Final table: every method on the Slovenian hold-out (pixel-dates, seeds 0-2; 16×16 blocks,
seed 0), on the synthetic drought test (large and small drought), and runtime per Mpx·year.

    /work/main/.venv/bin/python bench.py          (~2-3 min on one core)
"""
from __future__ import annotations

import numpy as np

import evalreal as R
import evalsynth as E
import methods as M
import st
import synth
from common import Timer, flat
from vegcube import gapfill


def vegcube(method, **p):
    def fn(y, t, **_):
        import pandas as pd, xarray as xr
        times = pd.Timestamp("2015-07-11") + pd.to_timedelta(t, "D")
        da = xr.DataArray(y.T[:, :, None], dims=("time", "y", "x"), coords={"time": times.values})
        ds = gapfill.fill(da, method=method, **p)
        f = ds["filled"].values[:, :, 0].T.astype(float)
        q = ds["quality"].values[:, :, 0].T
        return f, np.isfinite(y) & (q > 0)
    return fn


def cascade_bg(y, t):
    _, rep, fit, _ = M.harmonic_cascade(y, t, smooth=1e-3, robust=5, return_fit=True)
    return fit, np.where(rep, 0.0, 1.0)


CASES = [
    ("linear (vegcube)", vegcube("linear"), {}),
    ("harmonic (10,5,1) (vegcube)", vegcube("harmonic"), {}),
    ("hants (3,2,1) (vegcube)", vegcube("hants"), {}),
    ("whittaker λ10 index (vegcube)", vegcube("whittaker"), {}),
    ("despike + linear δ0.05", M.despike_linear, dict(delta=0.05)),
    ("whittaker λ3 real-time, no reweighting", M.whittaker, dict(lam=3)),
    ("whittaker λ3 upper envelope (4 it)", M.whittaker, dict(lam=3, robust=4)),
    ("whittaker λ3 upper env. + runs≥2 kept", M.whittaker, dict(lam=3, robust=4, min_run=2)),
    ("whittaker λ3 upper env. + runs≥3 kept", M.whittaker, dict(lam=3, robust=4, min_run=3)),
    ("robust harmonic K=3 ridge", M.harmonic, dict(k=3, smooth=1e-3, robust=5)),
    ("sound cascade (10,5,1) ridge+robust", M.harmonic_cascade, dict(smooth=1e-3, robust=5)),
    ("sound cascade + resid. Whittaker λ10 runs≥3", M.harmonic_cascade, dict(smooth=1e-3, robust=5, min_run=3, resid_lam=10)),
    ("ST: cascade + nbhd anomaly σ4", st.st_fill, dict(spatial=True, background=cascade_bg, sigma=4.0, e_lam=0.3)),
    ("ST: cascade + nbhd anomaly σ2", st.st_fill, dict(spatial=True, background=cascade_bg, sigma=2.0, e_lam=0.3)),
    ("ST2: σ3 + own departure λ30", st.st2_fill, dict(spatial=True, background=cascade_bg, sigma=3.0, e_lam=0.3, d_lam=30.0)),
]


def runtime(fn, kw, side=128):
    s = synth.make(7, side=side)
    Y = flat(s["obs"]).astype(float)
    kw = dict(kw)
    if kw.pop("spatial", False):
        kw["shape"] = s["shape"]
    with Timer() as tm:
        fn(Y, s["days"], **kw)
    mpx_year = side * side / 1e6 * (len(s["days"]) / 36)
    return tm.s / mpx_year


def main():
    rows = []
    for label, fn, kw in CASES:
        real = [R.run(fn, seed=sd, **kw)[0] for sd in (0, 1, 2)]
        blk = R.run(fn, seed=0, block=16, **kw)[0]
        big = E.run(fn, **kw); small = E.run(fn, radius=0.06, **kw)
        rt = runtime(fn, kw)
        row = dict(label=label, medae=real[0]["medae"], ratio=real[0]["ratio"],
                   ratio3=float(np.mean([r["ratio"] for r in real])), block=blk["ratio"],
                   fill=min(r["fill"] for r in real), kept=big["kept"], kept_gaps=big["kept_gaps"],
                   kept_small=small["kept"], spikes=big["rejected"], gap_err=big["gap_err"], rt=rt,
                   rej_real=real[0]["rejected"])
        rows.append(row)
        print(f"{label:44s} {row['medae']:.4f} {row['ratio']:.3f} {row['ratio3']:.3f} {row['block']:.3f} "
              f"{row['fill']:.1%} | {row['kept']:.0%} ({row['kept_gaps']:.0%}) {row['kept_small']:.0%} "
              f"{row['spikes']:.0%} {row['gap_err']:.4f} | {row['rt']:.1f} s/Mpx·yr", flush=True)
    import json
    json.dump(rows, open("bench_results.json", "w"), indent=1)


if __name__ == "__main__":
    main()
