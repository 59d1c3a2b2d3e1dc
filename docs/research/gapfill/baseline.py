"""Step 1: reproduce the issue's numbers with vegcube.gapfill.fill (defaults + variants)."""
from common import *  # noqa
from vegcube import gapfill

for seed in (0, 1, 2):
    d = load(seed)
    lin = gapfill.fill(d["da"], method="linear")["filled"].values
    common = d["scored"] & np.isfinite(lin)
    print(f"seed {seed}: held out {int(d['hold'].sum())}, scored {int(common.sum())}, "
          f"gaps {int((~np.isfinite(d['da'].values)).sum())}")
    base = None
    cases = [("linear", "linear", {}), ("harmonic (10,5,1)", "harmonic", {}),
             ("harmonic window 120", "harmonic", {"window_days": 120}),
             ("harmonic window 365", "harmonic", {"window_days": 365}),
             ("whittaker l10", "whittaker", {}), ("hants (3,2,1)", "hants", {})]
    for label, m, p in cases:
        with Timer() as tm:
            f = gapfill.fill(d["da"], method=m, **p)["filled"].values
        s = score(f, d, common)
        base = base or s["medae"]
        print(f"  {label:22s} medAE {s['medae']:.4f} ({s['medae']/base:.2f}x)  fill {s['fill']:.1%}"
              f"  allhold {s['medae_allhold']:.4f}  {tm.s:.2f}s")
    if seed == 0:
        print("  (seeds 1, 2: same protocol, other hold-out draws)")
