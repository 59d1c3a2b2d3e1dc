"""Synthetic drought test: 5 years of dekads on a 64×64 grid, seasonal curves (3 land covers),
noise, spatially coherent clouds (gaps), a drought (6 consecutive dekads, −0.25 NDVI, a disc of
~30 % of the pixels, year 4) and one-date negative spikes of cloud residue (patches, ~5 % of
valid observations, depth 0.1–0.4) that the mask missed. Fixed seed."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage


def dekads(start="2019-01-01", end="2023-12-31"):
    days = pd.date_range(start, end, freq="D")
    return days[days.day.isin([1, 11, 21])]


def patches(rng, T, side, frac, scale):
    """(T, side, side) boolean blobs covering ~frac of each date (smoothed noise, thresholded),
    with the share varying from date to date."""
    f = ndimage.gaussian_filter(rng.normal(size=(T, side, side)), sigma=(0, scale, scale), mode="wrap")
    f = (f - f.mean((1, 2), keepdims=True)) / f.std((1, 2), keepdims=True)
    share = np.clip(rng.beta(frac * 2, (1 - frac) * 2, T), 0, 1)   # date-to-date cover
    thr = np.array([np.quantile(f[i], 1 - share[i]) if share[i] > 0 else np.inf for i in range(T)])
    return f > thr[:, None, None]


def make(seed=42, side=64, drought_depth=0.25, drought_len=6, spike_frac=0.05, noise=0.02,
         cloud_frac=0.45, radius=0.31):
    rng = np.random.default_rng(seed)
    t = dekads(); T = len(t)
    ty = (t - t[0]).days.to_numpy() / 365.25
    yy, xx = np.mgrid[:side, :side]
    lc = (xx * 3 // side)                                   # 3 vertical bands of land cover
    base = np.array([0.25, 0.45, 0.7])[lc]; amp = np.array([0.3, 0.25, 0.1])[lc]
    ph = rng.normal(0, 0.2, (side, side)) + 2 * np.pi * 0.55  # peak around July
    truth0 = (base + amp * np.cos(2 * np.pi * ty[:, None, None] - ph)
              + 0.05 * amp * np.cos(4 * np.pi * ty[:, None, None] - 2 * ph))
    # year-to-year variation in amplitude (a realistic inter-annual signal, not a drought)
    yr = np.floor(ty).astype(int)
    truth0 = truth0 * (1 + 0.05 * rng.normal(size=6)[yr])[:, None, None]
    drought = np.zeros((T, side, side), bool)
    disc = (yy - side * 0.5) ** 2 + (xx - side * 0.5) ** 2 < (side * radius) ** 2
    d0 = int(np.searchsorted(ty, 3.45))                     # mid-June of year 4
    drought[d0:d0 + drought_len] = disc
    truth = truth0 - drought_depth * drought
    obs = truth + rng.normal(0, noise, truth.shape)
    cloud = patches(rng, T, side, cloud_frac, 6)
    resid = patches(rng, T, side, 0.08, 3) & ~cloud
    # residue only on a subset of dates (thin cloud edges), ~spike_frac of the valid obs
    keep_dates = rng.random(T) < spike_frac / max(resid.mean(), 1e-9) * (1 - cloud.mean())
    resid &= keep_dates[:, None, None]
    depth = rng.uniform(0.1, 0.4, truth.shape)
    obs = np.where(resid, obs - depth, obs)
    obs = np.where(cloud, np.nan, obs)
    return dict(t=t, days=(t - t[0]).days.to_numpy().astype(float), truth=truth, truth0=truth0,
                obs=obs, drought=drought, spike=resid, depth=depth, cloud=cloud, lc=lc,
                shape=(side, side))


def evaluate(out, s):
    """out (T, y, x). Returns drought kept (share of the −depth dip present, median over
    drought pixels of the mean over drought dates; also gap cells only), spikes rejected
    (share of spike cells brought within half their depth of the truth), gap error vs truth
    (median |e| at gaps outside the drought) and false dip (mean truth−out over non-drought
    cells, ≥ 0 means the series is biased low)."""
    dr = s["drought"]; depth = 0.25
    dip = s["truth0"] - out
    pix = dr.any(0)
    kept_px = np.where(dr, dip, np.nan)[:, pix]
    kept = float(np.nanmedian(np.nanmean(kept_px, 0)) / depth)
    gapdr = dr & s["cloud"]
    kept_gaps = float(np.nanmean(dip[gapdr]) / depth)
    sp = s["spike"]
    rejected = float(np.mean(np.abs(out - s["truth"])[sp] < 0.5 * s["depth"][sp]))
    gaps = s["cloud"] & ~dr
    gap_err = float(np.nanmedian(np.abs(out - s["truth"])[gaps]))
    fill = float(np.isfinite(out[s["cloud"]]).mean())
    return dict(kept=kept, kept_gaps=kept_gaps, rejected=rejected, gap_err=gap_err, fill=fill)


if __name__ == "__main__":
    s = make()
    print("gaps", np.isnan(s["obs"]).mean().round(3), "spikes/valid", (s["spike"].sum() / np.isfinite(s["obs"]).sum()).round(3),
          "drought cells", s["drought"].sum(), "observed in drought", (s["drought"] & ~s["cloud"]).sum())
    dr = s["drought"].any(0)
    nobs = (s["drought"] & ~s["cloud"]).sum(0)[dr]
    print("valid obs per drought pixel within the 6 dekads:", np.bincount(nobs))
