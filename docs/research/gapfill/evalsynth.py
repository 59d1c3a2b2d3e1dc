from common import flat, unflat, Timer
import numpy as np
import synth

_S = {}


def setup(seed=42, radius=0.31):
    if (seed, radius) not in _S:
        s = synth.make(seed, radius=radius)
        s["Y"] = flat(s["obs"]).astype(float)
        _S[(seed, radius)] = s
    return _S[(seed, radius)]


def run(fn, seed=42, spatial=False, radius=0.31, **kw):
    s = setup(seed, radius)
    if spatial:
        kw["shape"] = s["shape"]
    with Timer() as tm:
        out, rep = fn(s["Y"], s["days"], **kw)
    o = unflat(out, s["obs"].shape)
    r = synth.evaluate(o, s); r["sec"] = tm.s
    return r


def show(label, r):
    print(f"{label:55s} drought kept {r['kept']:.0%} (gaps {r['kept_gaps']:.0%}) spikes rej {r['rejected']:.0%} "
          f"gap err {r['gap_err']:.4f} fill {r['fill']:.1%}", flush=True)
