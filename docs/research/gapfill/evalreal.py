"""Evaluate a prototype on the Slovenian hold-out protocol (see common.py)."""
from common import *  # noqa
import methods as M

_cache = {}


def setup(seed=0, block=0):
    key = (seed, block)
    if key not in _cache:
        d = load(seed, block=block)
        t = days_of(d["times"])
        Y = flat(d["da"].values).astype(float)
        lin = unflat(M.linear_interp(Y, t), d["da"].shape)
        d.update(t=t, Y=Y, common=d["scored"] & np.isfinite(lin), lin=lin)
        d["lin_medae"] = float(np.median(np.abs(lin - d["ndvi"])[d["common"]]))
        _cache[key] = d
    return _cache[key]


def run(fn, seed=0, block=0, spatial=False, **kw):
    d = setup(seed, block)
    if spatial:
        kw['shape'] = d['da'].shape[1:]
    with Timer() as tm:
        out, rep = fn(d["Y"], d["t"], **kw)
    f = unflat(out, d["da"].shape)
    s = score(f, d, d["common"])
    s.update(ratio=s["medae"] / d["lin_medae"], sec=tm.s, rejected=float(rep.sum() / np.isfinite(d["Y"]).sum()))
    return s, f


def show(label, s):
    print(f"{label:55s} medAE {s['medae']:.4f} ({s['ratio']:.3f}x) fill {s['fill']:.1%} "
          f"rej {s['rejected']:.1%} allhold {s['medae_allhold']:.4f} {s['sec']:.2f}s", flush=True)
